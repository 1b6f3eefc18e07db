from django.urls import path

from . import views

urlpatterns = [
    path("two-factor/", views.verify, name="two_factor_verify"),
    path("two-factor/enrol/", views.enrol, name="two_factor_enrol"),
]
