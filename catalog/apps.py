from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Catalog"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from catalog.cart import cart_merge_on_login

        user_logged_in.connect(cart_merge_on_login, dispatch_uid="catalog.cart_merge_on_login")
