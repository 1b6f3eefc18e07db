from ninja import NinjaAPI

api = NinjaAPI(title="Grassroots API", version="1", urls_namespace="api")
