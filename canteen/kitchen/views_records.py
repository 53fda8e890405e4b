"""The daily food-safety records: phone/tablet forms used in the kitchen."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import lazy

from canteen.core.errors import DomainError
from canteen.core.i18n import tr
from canteen.core.widgets import DateTimeLocalInput

from . import selectors, services
from .choices import DisinfectionMethod, DisinfectionTarget, Meal, Symptom, WasteKind
from .views import parse_day

ltr = lazy(tr, str)  # form labels follow the request language
RECORD_ROLES = {"canteen_manager", "storekeeper", "school_admin"}


def _canteen(request):
    canteens = list(selectors.canteens_for(actor=request.user))
    if not canteens:
        raise Http404
    wanted = request.GET.get("canteen") or request.POST.get("canteen")
    for canteen in canteens:
        if str(canteen.id) == wanted:
            return canteen, canteens
    return canteens[0], canteens


def _can_write(request) -> bool:
    return request.user.is_superuser or request.user.role in RECORD_ROLES


def _back(canteen, day) -> str:
    return f"{reverse('kitchen:records')}?canteen={canteen.id}&day={day.isoformat()}"


@login_required
def today(request):
    canteen, canteens = _canteen(request)
    day = parse_day(request.GET.get("day"))
    records = selectors.day_records(actor=request.user, canteen=canteen, day=day)
    sampled = {(s.meal, s.dish_name) for s in records.samples}
    planned = []
    for meal in records.meals:
        dishes = selectors.planned_dishes(canteen=canteen, day=day, meal=meal)
        for dish in dishes or []:
            planned.append({"meal": meal, "name": dish["name"], "done": (meal, dish["name"]) in sampled})
    return render(
        request,
        "kitchen/records_today.html",
        {
            "canteen": canteen,
            "canteens": canteens,
            "day": day,
            "r": records,
            "planned": planned,
            "staff": selectors.staff_of(actor=request.user, canteen=canteen),
            "can_write": _can_write(request),
        },
    )


class MorningCheckForm(forms.Form):
    staff = forms.ModelChoiceField(queryset=None, label=ltr("员工", "Staff"))
    temperature_c = forms.DecimalField(
        max_digits=3, decimal_places=1, min_value=34, max_value=43, label=ltr("体温 ℃", "Temperature ℃")
    )
    symptoms = forms.MultipleChoiceField(
        choices=Symptom.choices, required=False, widget=forms.CheckboxSelectMultiple, label=ltr("症状", "Symptoms")
    )
    note = forms.CharField(required=False, max_length=200, label=ltr("备注", "Note"))


class FoodSampleForm(forms.Form):
    meal = forms.ChoiceField(choices=Meal.choices, label=ltr("餐次", "Meal"))
    dish_name = forms.CharField(max_length=80, label=ltr("菜品", "Dish"))
    weight_g = forms.IntegerField(min_value=1, initial=125, label=ltr("留样量（克）", "Weight (g)"))
    sampler_name = forms.CharField(max_length=40, label=ltr("留样人", "Sampled by"))
    storage = forms.CharField(max_length=60, required=False, initial="留样柜1", label=ltr("存放位置", "Storage"))


class DisinfectionForm(forms.Form):
    target = forms.ChoiceField(choices=DisinfectionTarget.choices, label=ltr("对象", "Target"))
    method = forms.ChoiceField(choices=DisinfectionMethod.choices, label=ltr("方式", "Method"))
    started_at = forms.DateTimeField(widget=DateTimeLocalInput(), label=ltr("开始时间", "Started"))
    duration_min = forms.IntegerField(min_value=1, label=ltr("时长（分钟）", "Minutes"))
    temperature_c = forms.IntegerField(required=False, label=ltr("温度 ℃", "Temperature ℃"))
    concentration_mg_l = forms.IntegerField(required=False, label=ltr("浓度 mg/L", "Concentration mg/L"))
    operator_name = forms.CharField(max_length=40, label=ltr("操作人", "Operator"))


class AccompaniedMealForm(forms.Form):
    meal = forms.ChoiceField(choices=Meal.choices, initial=Meal.LUNCH, label=ltr("餐次", "Meal"))
    leader_name = forms.CharField(max_length=40, label=ltr("陪餐领导", "Leader"))
    leader_title = forms.CharField(max_length=40, required=False, label=ltr("职务", "Title"))
    taste_score = forms.IntegerField(min_value=1, max_value=5, initial=5, label=ltr("口味", "Taste"))
    hygiene_score = forms.IntegerField(min_value=1, max_value=5, initial=5, label=ltr("卫生", "Hygiene"))
    portion_score = forms.IntegerField(min_value=1, max_value=5, initial=5, label=ltr("分量", "Portion"))
    comments = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label=ltr("意见", "Comments"))
    issues = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, label=ltr("发现的问题", "Issues found")
    )


class WasteForm(forms.Form):
    kind = forms.ChoiceField(choices=WasteKind.choices, label=ltr("种类", "Kind"))
    weight_kg = forms.DecimalField(
        max_digits=7, decimal_places=2, min_value=0, label=ltr("重量（千克）", "Weight (kg)")
    )
    collector_company = forms.CharField(max_length=80, label=ltr("收运单位", "Collector"))
    collector_name = forms.CharField(max_length=40, required=False, label=ltr("收运人", "Collected by"))
    receipt_no = forms.CharField(max_length=40, required=False, label=ltr("联单号", "Receipt no."))
    disposed_at = forms.DateTimeField(widget=DateTimeLocalInput(), label=ltr("时间", "When"))


def _form_page(request, form_class, title: tuple[str, str], save, *, setup=None):
    canteen, canteens = _canteen(request)
    day = parse_day(request.GET.get("day") or request.POST.get("day"))
    if not _can_write(request):
        raise Http404
    form = form_class(
        request.POST or None, initial={"started_at": timezone.localtime(), "disposed_at": timezone.localtime()}
    )
    if setup:
        setup(form, canteen)
    if request.method == "POST" and form.is_valid():
        try:
            save(request, canteen, day, form.cleaned_data)
        except DomainError as exc:
            form.add_error(None, exc.message(request.LANGUAGE_CODE))
        else:
            messages.success(request, tr("已保存", "Saved"))
            return redirect(_back(canteen, day))
    return render(
        request,
        "kitchen/record_form.html",
        {
            "form": form,
            "title": tr(*title),
            "canteen": canteen,
            "canteens": canteens,
            "day": day,
            "back": _back(canteen, day),
        },
    )


@login_required
def morning_check(request):
    def setup(form, canteen):
        form.fields["staff"].queryset = selectors.staff_of(actor=request.user, canteen=canteen)

    def save(request, canteen, day, data):
        check = services.morning_check_record(
            actor=request.user,
            staff=data["staff"],
            day=day,
            temperature_c=data["temperature_c"],
            symptoms=data["symptoms"],
            note=data["note"],
        )
        if not check.fit:
            messages.warning(
                request, tr(f"{check.staff.name} 晨检不合格，今日离岗", f"{check.staff.name} is unfit: off duty today")
            )

    return _form_page(request, MorningCheckForm, ("晨检", "Morning health check"), save, setup=setup)


@login_required
def food_sample(request):
    def save(request, canteen, day, data):
        services.food_sample_record(actor=request.user, canteen=canteen, day=day, **data)

    return _form_page(request, FoodSampleForm, ("留样登记", "Food sample"), save)


@login_required
def disinfection(request):
    def save(request, canteen, day, data):
        services.disinfection_record(actor=request.user, canteen=canteen, **data)

    return _form_page(request, DisinfectionForm, ("消毒记录", "Disinfection"), save)


@login_required
def accompanied_meal(request):
    def save(request, canteen, day, data):
        services.accompanied_meal_record(actor=request.user, canteen=canteen, day=day, **data)

    return _form_page(request, AccompaniedMealForm, ("陪餐记录", "Accompanied meal"), save)


@login_required
def waste(request):
    def save(request, canteen, day, data):
        services.waste_disposal_record(actor=request.user, canteen=canteen, **data)

    return _form_page(request, WasteForm, ("废弃物处置", "Waste disposal"), save)
