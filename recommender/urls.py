from django.urls import path

from recommender import views

urlpatterns = [
    path("", views.home, name="home"),
    path("items/<slug:slug>/", views.item_detail, name="item_detail"),
    path("search/", views.search, name="search"),
    path("cart/", views.cart, name="cart"),
    path("list/", views.saved_list, name="saved_list"),
    path("search/suggest/", views.search_suggest, name="search_suggest"),
    path("accounts/onboarding/", views.onboarding, name="onboarding"),
    path("accounts/export/", views.account_export, name="account_export"),
    path("accounts/delete/", views.account_delete, name="account_delete"),
]
