from django.contrib import admin

from catalog.models import Category, Entity, Event, Item, ItemRelation, Profile, Review


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "slug")
    search_fields = ("name",)
    prepopulated_fields = {"slug": ("name",)}


class ItemRelationInline(admin.TabularInline):
    model = ItemRelation
    extra = 0
    autocomplete_fields = ("entity",)
    show_change_link = False


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ("title", "year", "genre_list", "category", "price", "is_active", "updated_at")
    list_filter = ("is_active", "category", "year")
    search_fields = ("title", "external_id", "description")
    prepopulated_fields = {"slug": ("title",)}
    inlines = (ItemRelationInline,)
    list_per_page = 50

    @admin.display(description="genres")
    def genre_list(self, obj: Item) -> str:
        return ", ".join(obj.genres)


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ("item", "user", "rating", "short_text", "is_hidden", "created_at")
    list_filter = ("is_hidden", "rating")
    search_fields = ("item__title", "user__username", "text")
    raw_id_fields = ("user", "item")
    list_select_related = ("item", "user")

    @admin.display(description="text")
    def short_text(self, obj: Review) -> str:
        return (obj.text[:80] + "…") if len(obj.text) > 80 else obj.text


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "user", "session_key", "item", "value")
    list_filter = ("kind",)
    search_fields = ("user__username", "session_key", "item__title")
    list_select_related = ("item", "user")
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "age", "gender", "occupation", "demographics_consent", "personalization_opt_out")
    list_filter = ("gender", "demographics_consent", "personalization_opt_out", "occupation")
    search_fields = ("user__username", "interests")
    raw_id_fields = ("user",)


@admin.register(Entity)
class EntityAdmin(admin.ModelAdmin):
    list_display = ("external_id", "name")
    search_fields = ("external_id", "name")


@admin.register(ItemRelation)
class ItemRelationAdmin(admin.ModelAdmin):
    list_display = ("item", "relation", "entity")
    list_filter = ("relation",)
    search_fields = ("item__title", "entity__external_id", "entity__name")
    raw_id_fields = ("item", "entity")
    list_select_related = ("item", "entity")
