from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Catalog"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import post_save, pre_delete

        from catalog.cart import cart_merge_on_login
        from catalog.services import account_deleting, password_saved, visit_claim_on_login

        user_logged_in.connect(cart_merge_on_login, dispatch_uid="catalog.cart_merge_on_login")
        user_logged_in.connect(visit_claim_on_login, dispatch_uid="catalog.visit_claim_on_login")
        pre_delete.connect(account_deleting, sender=get_user_model(), dispatch_uid="catalog.account_deleting")
        post_save.connect(password_saved, sender=get_user_model(), dispatch_uid="catalog.password_saved")
