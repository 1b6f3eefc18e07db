"""Open311 GeoReport v2 (wiki.open311.org/GeoReport_v2) at /open311/v2/.

Reading is public and shows no personal data (a coarse place, no reporter's words); creating a
request needs an API key issued with `grassroots open311 key NAME`, sent in the POST body. Service codes are category codes, service request ids are case
tracking codes, and the jurisdiction is the county (its unit code).
"""
