"""Meals API: thin views over services and selectors. Menu writes need an Idempotency-Key."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from canteen.core.api import idempotent_response
from canteen.core.errors import Forbidden, NotFound, ValidationFailed
from canteen.org.models import Campus, Student

from .. import forecast, selectors, services
from ..models import Dish, MealSession, Menu, SetMeal
from ..nutrition import dish_totals
from ..views import EDITOR_ROLES
from . import serializers as s

DAY = OpenApiParameter("day", OpenApiTypes.DATE, description="YYYY-MM-DD (default today)")


def _day(request: Request, default: date | None = None) -> date:
    raw = request.query_params.get("day")
    if not raw:
        return default or timezone.localdate()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(details={"day": raw}) from None


def _campus(request: Request, campus_id: Any) -> Campus:
    campus = selectors.campuses_for(actor=request.user).filter(pk=campus_id).first()
    if campus is None:
        raise NotFound()
    return campus


def _editor(request: Request) -> None:
    if not (request.user.is_superuser or request.user.role in EDITOR_ROLES):
        raise Forbidden()


def _jsonable(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _jsonable(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_jsonable(v) for v in data]
    if hasattr(data, "quantize"):
        return str(data)
    return data


def menu_body(menu: Menu) -> dict[str, Any]:
    return {
        "id": str(menu.id),
        "campus_id": str(menu.campus_id),
        "session_kind": menu.session.kind,
        "day": menu.day.isoformat(),
        "status": menu.status,
        "version": menu.version,
        "entries": services.menu_snapshot(menu),
    }


class MenusOfDay(APIView):
    @extend_schema(parameters=[DAY], responses=s.SessionMenuSerializer(many=True))
    def get(self, request: Request, campus_id) -> Response:
        """A campus's published menus of a day, by session, with nutrients per set meal."""
        campus = _campus(request, campus_id)
        menus = selectors.menu_for_day(campus=campus, day=_day(request), with_nutrition=True)
        return Response(_jsonable(s.SessionMenuSerializer(menus, many=True).data))


class MenuWrite(APIView):
    @extend_schema(request=s.MenuWriteSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request) -> Response:
        """Set a session's menu for a day (a change after publishing needs a reason)."""
        _editor(request)
        data = s.MenuWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        campus = _campus(request, v["campus"])

        def operation():
            session = MealSession.objects.filter(campus=campus, kind=v["session_kind"]).first()
            if session is None:
                raise NotFound(details={"session_kind": v["session_kind"]})
            set_meals = {str(sm.id): sm for sm in SetMeal.objects.filter(campus=campus)}
            ids = {str(d) for e in v["entries"] for d in e["dishes"]}
            dishes = {str(d.id): d for d in Dish.objects.filter(school_id=campus.school_id, id__in=ids)}
            entries = {}
            for entry in v["entries"]:
                set_meal = set_meals.get(str(entry["set_meal"]))
                chosen = [dishes.get(str(d)) for d in entry["dishes"]]
                if set_meal is None or None in chosen:
                    raise NotFound(details={"set_meal": str(entry["set_meal"])})
                entries[set_meal] = chosen
            menu = services.menu_set_entries(
                actor=request.user, campus=campus, session=session, day=v["day"], entries=entries, reason=v["reason"]
            )
            return 200, menu_body(menu)

        return idempotent_response(request, scope=f"meals.menu:{request.user.pk}", operation=operation)


class MenuPublish(APIView):
    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, menu_id) -> Response:
        """Publish a draft menu (announces it and runs the nutrition check)."""
        _editor(request)
        menu = Menu.objects.visible_to(request.user).select_related("session").filter(pk=menu_id).first()
        if menu is None:
            raise NotFound()

        def operation():
            published = services.menu_publish(actor=request.user, menu=menu)
            return 200, menu_body(published)

        return idempotent_response(
            request, scope=f"meals.publish:{request.user.pk}", operation=operation, payload={"menu": str(menu_id)}
        )


class Offer(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("student", OpenApiTypes.UUID, required=True),
            OpenApiParameter("at", OpenApiTypes.DATETIME, description="ISO 8601, default now"),
        ],
        responses={200: s.MealOfferSerializer, 204: None},
    )
    def get(self, request: Request) -> Response:
        """What the window offers a student now (204 when nothing: outside hours, opted out)."""
        student = Student.objects.visible_to(request.user).filter(pk=request.query_params.get("student")).first()
        if student is None:
            raise NotFound()
        at = timezone.now()
        if request.query_params.get("at"):
            try:
                at = datetime.fromisoformat(request.query_params["at"])
            except ValueError:
                raise ValidationFailed(details={"at": request.query_params["at"]}) from None
            if timezone.is_naive(at):
                at = timezone.make_aware(at)
        offer = selectors.meal_offer_for(student=student, at=at)
        if offer is None:
            return Response(status=204)
        return Response(s.MealOfferSerializer(offer).data)


class Forecast(APIView):
    @extend_schema(parameters=[DAY], responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, campus_id) -> Response:
        """Portions per set meal and dish for a day (default tomorrow) and the ingredients needed."""
        campus = _campus(request, campus_id)
        day = _day(request, timezone.localdate() + timedelta(days=1))
        return Response(
            {
                "campus_id": str(campus.id),
                "day": day.isoformat(),
                "set_meals": [
                    {
                        "session_kind": f.session_kind,
                        "set_meal_id": str(f.set_meal_id),
                        "set_meal": f.set_meal_name,
                        "planned": f.planned,
                        "ratio": str(f.ratio),
                        "history_days": f.history_days,
                        "portions": f.portions,
                    }
                    for f in forecast.forecast_set_meals(campus=campus, day=day)
                ],
                "dishes": [
                    {"dish_id": str(f.dish_id), "dish": f.dish_name, "portions": f.portions}
                    for f in forecast.forecast_dishes(campus=campus, day=day)
                ],
                "ingredients": [
                    {
                        "food_code": r.food_code,
                        "name": r.name,
                        "procurement_item_id": None if r.procurement_item_id is None else str(r.procurement_item_id),
                        "quantity": str(r.quantity_kg),
                        "unit": "kg",
                    }
                    for r in forecast.ingredient_demand_detail(campus=campus, day=day)
                ],
            }
        )


class NutritionCheckView(APIView):
    @extend_schema(parameters=[DAY], responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, campus_id) -> Response:
        """The latest WS/T 554-2017 check of a campus-day."""
        campus = _campus(request, campus_id)
        day = _day(request)
        check = selectors.latest_nutrition_check(campus=campus, day=day)
        if check is None:
            raise NotFound()
        return Response(
            {
                "campus_id": str(campus.id),
                "day": day.isoformat(),
                "passed": check.passed,
                "flags": check.flags,
                "summary": check.summary,
                "checked_at": check.created_at.isoformat(),
            }
        )


class Dishes(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("campus", OpenApiTypes.UUID, required=True)],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        """The dish library of a campus's school, with recipes, allergens and nutrients."""
        campus = _campus(request, request.query_params.get("campus"))
        dishes = selectors.dishes_of(actor=request.user, school_id=campus.school_id)
        return Response(
            [
                {
                    "id": str(d.id),
                    "name": d.name,
                    "allergens": d.allergens,
                    "diet_tags": d.diet_tags,
                    "recipe": [
                        {"food_code": ln.ingredient.code, "name": ln.ingredient.name_zh, "grams": str(ln.grams)}
                        for ln in d.lines.all()
                    ],
                    "nutrition": _jsonable(dish_totals(d).as_dict()),
                }
                for d in dishes
            ]
        )


def _student(request: Request, student_id: Any) -> Student:
    student = Student.objects.visible_to(request.user).select_related("campus__school").filter(pk=student_id).first()
    if student is None:
        raise NotFound()
    return student


def plan_body(student: Student) -> dict[str, Any]:
    from ..models import MealPlan

    plan = MealPlan.objects.filter(student=student).prefetch_related("choices__set_meal").first()
    return {
        "student_id": str(student.id),
        "diet": plan.diet if plan else "standard",
        "diet_notes": plan.diet_notes if plan else "",
        "choices": {
            c.session_kind: {"set_meal_id": str(c.set_meal_id) if c.set_meal_id else None, "enrolled": c.enrolled}
            for c in (plan.choices.all() if plan else [])
        },
    }


class StudentMealPlan(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, student_id) -> Response:
        """A student's meal plan (the student's guardians and the school's staff may read it)."""
        return Response(plan_body(_student(request, student_id)))

    @extend_schema(request=s.MealPlanWriteSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, student_id) -> Response:
        """Set diet and default set meals (school staff)."""
        _editor(request)
        student = _student(request, student_id)
        data = s.MealPlanWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data

        def operation():
            choices = None
            if "choices" in v:
                set_meals = {str(sm.id): sm for sm in SetMeal.objects.filter(campus=student.campus)}
                choices = {}
                for kind, set_meal_id in v["choices"].items():
                    if set_meal_id is not None and str(set_meal_id) not in set_meals:
                        raise NotFound(details={"set_meal": str(set_meal_id)})
                    choices[kind] = set_meals.get(str(set_meal_id)) if set_meal_id else None
            services.meal_plan_set(
                actor=request.user,
                student=student,
                choices=choices,
                diet=v.get("diet"),
                diet_notes=v.get("diet_notes"),
            )
            return 200, plan_body(student)

        return idempotent_response(request, scope=f"meals.plan:{request.user.pk}", operation=operation)


class StudentOptOut(APIView):
    @extend_schema(request=s.OptOutWriteSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request, student_id) -> Response:
        """Stop meals for some days (sick leave, a trip): staff, or the student's own guardian."""
        from canteen.org.choices import Role

        if not (request.user.is_superuser or request.user.role in {*EDITOR_ROLES, Role.GUARDIAN}):
            raise Forbidden()
        student = _student(request, student_id)
        data = s.OptOutWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if request.user.role == Role.GUARDIAN and v["start"] < timezone.localdate():
            raise ValidationFailed("家长不能补报过去的停餐", "Guardians cannot opt out for past days")

        def operation():
            opt_out = services.meal_opt_out_create(
                actor=request.user,
                student=student,
                start=v["start"],
                end=v["end"],
                session_kind=v["session_kind"],
                reason=v["reason"],
            )
            return 201, {
                "id": str(opt_out.id),
                "student_id": str(student.id),
                "start": opt_out.start.isoformat(),
                "end": opt_out.end.isoformat(),
                "session_kind": opt_out.session_kind,
                "reason": opt_out.reason,
            }

        return idempotent_response(request, scope=f"meals.optout:{request.user.pk}", operation=operation)
