from django.urls import path

from catalog import views

urlpatterns = [
    path("", views.home, name="home"),
    path("items/<slug:slug>/", views.item_detail, name="item_detail"),
]
