from django.contrib import admin

from .models import (
    Dish,
    Ingredient,
    MealPlan,
    MealSession,
    Menu,
    MenuBoard,
    MenuVersion,
    NutritionCheck,
    RecipeLine,
    ServedCount,
    SetMeal,
)


@admin.register(Ingredient)
class IngredientAdmin(admin.ModelAdmin):
    list_display = ["code", "name_zh", "name_en", "food_group", "energy_kcal", "protein_g", "allergens"]
    list_filter = ["food_group"]
    search_fields = ["code", "name_zh", "name_en"]


class RecipeLineInline(admin.TabularInline):
    model = RecipeLine
    extra = 0
    raw_id_fields = ["ingredient", "procurement_item"]


@admin.register(Dish)
class DishAdmin(admin.ModelAdmin):
    list_display = ["name", "school", "allergens", "diet_tags", "active"]
    search_fields = ["name", "school__name"]
    readonly_fields = ["allergens", "diet_tags"]  # derived from the recipe by services
    inlines = [RecipeLineInline]


@admin.register(SetMeal)
class SetMealAdmin(admin.ModelAdmin):
    list_display = ["name", "campus", "price_fen", "diet", "is_default", "active"]
    search_fields = ["name", "campus__name", "campus__school__name"]


@admin.register(MealSession)
class MealSessionAdmin(admin.ModelAdmin):
    list_display = ["campus", "kind", "serve_start", "serve_end", "allows_second_meal", "active"]


@admin.register(Menu)
class MenuAdmin(admin.ModelAdmin):
    list_display = ["day", "campus", "session", "status", "version", "published_at"]
    list_filter = ["status"]
    date_hierarchy = "day"


@admin.register(MenuVersion)
class MenuVersionAdmin(admin.ModelAdmin):
    list_display = ["menu", "version", "is_change_after_publish", "reason", "actor_label", "created_at"]

    def has_change_permission(self, request, obj=None):
        return False  # versions are a record: never edited


admin.site.register(MealPlan)
admin.site.register(NutritionCheck)
admin.site.register(ServedCount)
admin.site.register(MenuBoard)
