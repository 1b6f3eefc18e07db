"""Requests and cases (诉求/事件). So far: the working-day calendar that deadlines count on."""
