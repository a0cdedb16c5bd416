"""Staff import a catalogue file in the admin (Items, "Import from CSV"): the CSV reader and the
bulk import behind ``manage.py import_ratings --items``, in one transaction, then embedded by the
real worker."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from catalog.models import Item
from recommender.models import ItemEmbedding
from tests.recommender.test_embedding import wait_for

URL = "/admin/catalog/item/import/"
HEADER = "item_id,title,genres,description,price,image_url\n"


def _file(body: str, name: str = "shop.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, (HEADER + body).encode(), content_type="text/csv")


@pytest.fixture
def staff_client(client):
    client.force_login(User.objects.create_superuser("importer", "importer@example.com", "importer-pass-2026"))
    return client


@pytest.mark.django_db(transaction=True)
def test_staff_import_a_catalogue_and_the_worker_embeds_it(staff_client, celery_worker):
    changelist = staff_client.get(reverse("admin:catalog_item_changelist")).content.decode()
    assert f'href="{URL}">Import from CSV' in changelist
    assert "item_id,title,year,genres,description,price,image_url" in staff_client.get(URL).content.decode()
    body = ('K1,Lighthouse Keepers (2021),Documentary,"Two keepers, a storm and a rowing boat.",14.99,'
            "https://img.example.com/k1.jpg\n"
            "K2,Harbour Lights,Drama,,,\n")
    response = staff_client.post(URL, {"items": _file(body), "namespace": "shop"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:catalog_item_changelist")
    assert [str(m) for m in response.context["messages"]] == [
        "2 items created, 0 updated, 0 unchanged: the new and changed ones are queued for embedding."]
    keepers = Item.objects.get(external_id="shop:K1")
    assert (keepers.title, keepers.year, str(keepers.price), keepers.image_url) == (
        "Lighthouse Keepers", 2021, "14.99", "https://img.example.com/k1.jpg")
    wait_for(lambda: ItemEmbedding.objects.filter(item__external_id__startswith="shop:").count() == 2,
             message="the imported items' vectors")
    again = staff_client.post(URL, {"items": _file(body), "namespace": "shop"}, follow=True)
    assert [str(m) for m in again.context["messages"]] == ["0 items created, 0 updated, 2 unchanged."]


@pytest.mark.django_db
@pytest.mark.parametrize(("upload", "namespace", "error"), [
    (_file("K1,Keepers,Drama,,14.99,\nK2,Lights,Drama,,free,\n"), "shop",
     "Nothing was imported: shop.csv line 3: price &#x27;free&#x27; is not a number such as 9.99."),
    (SimpleUploadedFile("latin1.csv", (HEADER + "K1,Caf\xe9,Drama,,1,\n").encode("latin-1")), "shop",
     "Nothing was imported: latin1.csv: not UTF-8 text (byte 0xe9 at offset"),
    # each of these was a 500: the database refused the value mid-import
    (_file("K1,Keepers,Dra\x00ma,,1,\n"), "shop", "shop.csv line 2: genres holds a NUL character, which text cannot"),
    (_file(f"K1,{'A' * 301},Drama,,1,\n"), "shop", "shop.csv line 2: the title has 301 characters; at most 300"),
    (_file(f"K1,Keepers,{'Noir' * 13},,1,\n"), "shop", "has 52 characters; at most 50"),
    (_file(f"{'K' * 96},Keepers,Drama,,1,\n"), "shop",
     "with the namespace &#x27;shop&#x27; an id has at most 95 characters"),
    # the API refuses a repeated item; a file's last line won silently
    (_file("K1,Keepers,Drama,,1,\nK1,Lights,Drama,,2,\n"), "shop",
     "shop.csv line 3: item_id &#x27;K1&#x27; is on an earlier line too; give each item once"),
    (SimpleUploadedFile("notes.csv", b"name,price\nKeepers,1\n"), "shop",
     "Nothing was imported: notes.csv: header must have columns item_id, title; missing item_id, title."),
    (_file("K1,Keepers,Drama,,1,\n"), "my shop",
     "Nothing was imported: the namespace &#x27;my shop&#x27; may hold only letters, digits and dashes."),
])
def test_a_bad_file_imports_nothing_and_the_page_says_why(staff_client, upload, namespace, error):
    before = Item.objects.count()
    response = staff_client.post(URL, {"items": upload, "namespace": namespace})
    assert response.status_code == 400 and error in response.content.decode()
    assert Item.objects.count() == before


@pytest.mark.django_db
def test_importing_needs_permission_to_add_and_change_items(client):
    ContentType.objects.clear_cache()  # a flush by an earlier test renumbers the content types
    clerk = User.objects.create_user("clerk", password="clerk-pass-2026", is_staff=True)
    clerk.user_permissions.set([Permission.objects.get_or_create(
        codename=codename, content_type=ContentType.objects.get_for_model(Item))[0]
        for codename in ("view_item", "change_item")])
    client.force_login(clerk)
    assert "Import from CSV" not in client.get(reverse("admin:catalog_item_changelist")).content.decode()
    assert client.post(URL, {"items": _file("K1,Keepers,Drama,,1,\n"), "namespace": "shop"}).status_code == 403
    assert not Item.objects.filter(external_id="shop:K1").exists()
    client.logout()
    assert client.get(URL).status_code == 302  # to the admin's log-in


@pytest.mark.django_db
def test_exported_items_import_back_unchanged_and_one_source_at_a_time(staff_client):
    body = ('K1,Lighthouse Keepers (2021),Documentary|Drama,"Two keepers, a storm\nand a ""rowing"" boat.",14.99,'
            "https://img.example.com/k1.jpg\n"
            "K2,Harbour Lights (1999),,,,\n")
    staff_client.post(URL, {"items": _file(body), "namespace": "shop"}, follow=True)  # its message shown
    shop = list(Item.objects.filter(external_id__startswith="shop:").order_by("pk").values_list("pk", flat=True))
    Item.objects.filter(pk=shop[1]).update(title="Harbour Lights (1999)", year=None)  # a title that only looks dated
    changelist = reverse("admin:catalog_item_changelist")
    response = staff_client.post(changelist, {"action": "export_csv", "_selected_action": shop})
    assert response["Content-Disposition"] == 'attachment; filename="items-shop.csv"'
    exported = b"".join(response.streaming_content).decode()
    assert exported.splitlines()[0] == "item_id,title,year,genres,description,price,image_url"
    assert ('K1,Lighthouse Keepers,2021,Documentary|Drama,"Two keepers, a storm\nand a ""rowing"" boat.",14.99,'
            "https://img.example.com/k1.jpg\n") in exported
    assert "K2,Harbour Lights (1999),,,,9.99,\n" in exported
    back = staff_client.post(URL, {"items": SimpleUploadedFile("items-shop.csv", exported.encode()),
                                   "namespace": "shop"}, follow=True)
    assert [str(m) for m in back.context["messages"]] == ["0 items created, 0 updated, 2 unchanged."]
    assert Item.objects.get(pk=shop[1]).display_title == "Harbour Lights (1999)"  # no year read off its title

    local = Item.objects.create(title="Hand Made", slug="hand-made", external_id="local:hand-made")
    mixed = staff_client.post(changelist, {"action": "export_csv", "_selected_action": [*shop, local.pk]}, follow=True)
    assert [str(m) for m in mixed.context["messages"]] == [
        "Select items of one source at a time (local, shop): an items file has one namespace."]
    gone_pk = local.pk
    local.delete()  # by someone else, while this list was open: it said "one source at a time ()"
    gone = staff_client.post(changelist, {"action": "export_csv", "_selected_action": [gone_pk]}, follow=True)
    assert [str(m) for m in gone.context["messages"]] == [
        "None of the selected items exists any more: nothing to export."]


@pytest.mark.django_db
def test_excels_csv_utf8_and_a_long_file_name_import(staff_client):
    """Excel's "CSV UTF-8" starts with a byte order mark: it read as a missing item_id column. A
    file name longer than a category's name was a 500 (the catalogue is named after the file)."""
    name = "catalogue-export-" + "x" * 120 + ".csv"
    upload = SimpleUploadedFile(name, ("\ufeff" + HEADER + "K1,Caf\u00e9 Society,Drama,,1,\n").encode())
    response = staff_client.post(URL, {"items": upload, "namespace": "shop"}, follow=True)
    assert next(str(m) for m in response.context["messages"]).startswith("1 item created")
    item = Item.objects.get(external_id="shop:K1")
    assert item.title == "Caf\u00e9 Society" and item.category.name == name.removesuffix(".csv")[:100]
