"""Demo data of the bright kitchen: cameras for the first canteens (simulated by `canteen streams
--demo` on 127.0.0.1 UDP ports), their schedules and staff, and a week of food-safety records in
which one lunch has no food sample (the sweep raises it as kitchen.record_missing)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.utils import timezone

from canteen.org.choices import Role
from canteen.org.models import Canteen, User

from . import services, tasks
from .choices import Area, DisinfectionMethod, DisinfectionTarget, Meal, WasteKind
from .models import Camera, KitchenSchedule

DEMO_PORT = 25000  # simulated cameras listen on DEMO_PORT, DEMO_PORT + 1, …
CAMERA_PLAN = [
    list(Area.values),  # the first canteen shows every area
    [Area.WASHING_CUTTING, Area.COOKING, Area.PORTIONING],
    [Area.COOKING, Area.PORTIONING, Area.STORAGE],
]
AREA_NAMES = {
    Area.RECEIVING: "收货区",
    Area.WASHING_CUTTING: "粗加工切配间",
    Area.COOKING: "烹饪间",
    Area.PORTIONING: "备餐分餐间",
    Area.STORAGE: "主副食库房",
    Area.DISINFECTION: "洗消间",
}
FALLBACK_DISHES = {
    Meal.BREAKFAST: ["鸡蛋", "肉包", "小米粥"],
    Meal.LUNCH: ["红烧鸡块", "番茄炒蛋", "清炒时蔬", "紫菜蛋花汤", "米饭"],
}
STAFF = [("刘桂兰", "厨师长"), ("陈建国", "厨师"), ("张秀英", "切配"), ("王德明", "面点"), ("李红梅", "分餐")]


def _at(day: date, hh: int, mm: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hh, mm)))


def seed(ctx) -> None:
    canteens = list(Canteen.objects.filter(campus__in=ctx.campuses[: len(CAMERA_PLAN)]).order_by("code"))
    if not canteens or Camera.objects.filter(canteen__in=canteens).exists():
        return
    port = DEMO_PORT
    for canteen, areas in zip(canteens, CAMERA_PLAN, strict=False):
        manager = User.objects.filter(role=Role.CANTEEN_MANAGER, campus=canteen.campus).first()
        for order, area in enumerate(areas):
            services.camera_create(
                actor=manager,
                canteen=canteen,
                name=AREA_NAMES[area],
                area=area,
                stream_url=f"udp://127.0.0.1:{port}",
                sort_order=order,
            )
            port += 1
        KitchenSchedule.objects.create(
            canteen=canteen,
            work_start=time(5, 30),
            work_end=time(19, 30),
            work_days=[0, 1, 2, 3, 4],
            meals=[Meal.BREAKFAST, Meal.LUNCH],
        )
        staff = [
            services.staff_add(
                actor=manager,
                canteen=canteen,
                name=name,
                position=position,
                certificate_no=f"JKZ{ctx.rng.randint(10**7, 10**8 - 1)}",
                certificate_expires=ctx.today + timedelta(days=ctx.rng.randint(30, 300)),
            )
            for name, position in STAFF
        ]
        _week_of_records(ctx, canteen, manager, staff, first=canteen == canteens[0])
    # The sweep finds the one gap the generator left, exactly as `canteen worker` would.
    for offset in range(7, 0, -1):
        tasks.missing_samples_check(day=ctx.today - timedelta(days=offset), canteens=canteens)


def _week_of_records(ctx, canteen, manager, staff, *, first: bool) -> None:
    rng = ctx.rng
    working_days = [d for d in (ctx.today - timedelta(days=n) for n in range(7, 0, -1)) if d.weekday() < 5]
    gap_day = working_days[-2] if first and len(working_days) >= 2 else None
    for day in working_days:
        unfit = staff[2] if day == working_days[0] else None
        for person in staff:
            services.morning_check_record(
                actor=manager,
                staff=person,
                day=day,
                temperature_c=37.6 if person == unfit else round(rng.uniform(36.1, 36.9), 1),
                symptoms=["sore_throat"] if person == unfit else [],
            )
        for meal, hour in ((Meal.BREAKFAST, 7), (Meal.LUNCH, 11)):
            if day == gap_day and meal == Meal.LUNCH:
                continue  # the missing sample record of the demo
            from .selectors import planned_dishes

            dishes = [d["name"] for d in planned_dishes(canteen=canteen, day=day, meal=meal) or []]
            for dish in dishes or FALLBACK_DISHES[meal]:
                services.food_sample_record(
                    actor=manager,
                    canteen=canteen,
                    day=day,
                    meal=meal,
                    dish_name=dish,
                    weight_g=rng.randint(128, 180),
                    sampler_name=staff[0].name,
                    sampled_at=_at(day, hour, 40),
                    storage="留样冰箱1号",
                )
        services.disinfection_record(
            actor=manager,
            canteen=canteen,
            target=DisinfectionTarget.TABLEWARE,
            method=DisinfectionMethod.INFRARED_CABINET,
            started_at=_at(day, 13, 30),
            duration_min=20,
            temperature_c=125,
            quantity=f"{rng.randint(300, 600)} 套",
            operator_name=staff[4].name,
        )
        services.disinfection_record(
            actor=manager,
            canteen=canteen,
            target=DisinfectionTarget.SURFACES,
            method=DisinfectionMethod.CHLORINE,
            started_at=_at(day, 14, 0),
            duration_min=10,
            concentration_mg_l=250,
            operator_name=staff[2].name if staff[2] else staff[1].name,
        )
        services.accompanied_meal_record(
            actor=manager,
            canteen=canteen,
            day=day,
            meal=Meal.LUNCH,
            leader_name=rng.choice(["周校长", "吴副校长", "郑主任"]),
            leader_title="学校领导",
            taste_score=rng.randint(3, 5),
            hygiene_score=rng.randint(4, 5),
            portion_score=rng.randint(3, 5),
            comments=rng.choice(["饭菜温度适宜，学生反映良好", "青菜略咸，已反馈厨师长", "分量充足，餐具洁净"]),
        )
        services.waste_disposal_record(
            actor=manager,
            canteen=canteen,
            kind=WasteKind.FOOD_WASTE,
            weight_kg=round(rng.uniform(20, 60), 1),
            collector_company="荆州市城发环境餐厨垃圾收运",
            collector_name="黄师傅",
            receipt_no=f"CC{day:%Y%m%d}{rng.randint(100, 999)}",
            disposed_at=_at(day, 18, 30),
        )
