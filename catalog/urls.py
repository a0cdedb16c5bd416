from django.urls import path

from catalog import views

urlpatterns = [
    path("browse/", views.browse, name="browse"),
    path("browse/<str:genre>/", views.browse, name="browse_genre"),
    path("items/<slug:slug>/rate/", views.rate, name="item_rate"),
    path("items/<slug:slug>/rate/delete/", views.review_remove, name="item_rate_delete"),
    path("items/<slug:slug>/feedback/", views.feedback, name="item_feedback"),
    path("reviews/<int:pk>/report/", views.review_report, name="review_report"),
    path("cart/add/<slug:slug>/", views.cart_add, name="cart_add"),
    path("cart/remove/<slug:slug>/", views.cart_remove, name="cart_remove"),
    path("list/add/<slug:slug>/", views.saved_add, name="saved_add"),
    path("list/remove/<slug:slug>/", views.saved_remove, name="saved_remove"),
    path("checkout/", views.checkout, name="checkout"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/profile/", views.profile, name="profile"),
    path("accounts/email/", views.account_email, name="account_email"),
    path("accounts/apps/signout/", views.account_apps_signout, name="account_apps_signout"),
    path("accounts/history/", views.history, name="history"),
    path("accounts/history/<int:pk>/", views.history_use, name="history_use"),
]
