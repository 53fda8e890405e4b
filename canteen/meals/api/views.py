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
