from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import (
    Campus,
    Canteen,
    City,
    District,
    Guardian,
    GuardianLink,
    School,
    SchoolClass,
    ServingWindow,
    Student,
    User,
)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "display_name", "role", "district", "school", "campus", "is_active")
    list_filter = ("role", "is_active")
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        (
            "角色与范围 Role and scope",
            {"fields": ("display_name", "phone", "role", "city", "district", "school", "campus")},
        ),
    )
    raw_id_fields = ("city", "district", "school", "campus")


@admin.register(School)
class SchoolAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "district", "stage")
    list_filter = ("district", "stage")
    search_fields = ("name", "code")


@admin.register(Campus)
class CampusAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "school")
    search_fields = ("name", "code", "school__name")


@admin.register(Student)
class StudentAdmin(admin.ModelAdmin):
    list_display = ("student_number", "name", "campus", "school_class", "status")
    list_filter = ("status",)
    search_fields = ("name", "student_number")
    raw_id_fields = ("campus", "school_class")


for model in (City, District, Canteen, ServingWindow, SchoolClass, Guardian, GuardianLink):
    admin.site.register(model)
