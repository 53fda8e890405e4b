"""Demo data for procurement: 12 suppliers per district (one licence about to expire, one
expired), an ~80-item catalogue with versioned framework prices, and for the first district a
school week of orders, accepted deliveries with batches, inspection records and stock issued to
the kitchen for lunch; plus tomorrow's orders in every state before delivery.

Built with bulk inserts (the rules are exercised by the services' tests; here speed matters).
No events are published: trace and supervision backfill from `selectors.accepted_batches`
and `selectors.spend_by_supplier`."""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from canteen.core.money import Money
from canteen.ledger import food_cost
from canteen.org.choices import Role
from canteen.org.models import Student, User

from .choices import (
    BatchStatus,
    CheckResult,
    DeliveryStatus,
    ItemCategory,
    LicenceKind,
    MealKind,
    MovementKind,
    OrderStatus,
    Storage,
)
from .models import (
    AcceptanceCheck,
    Batch,
    Delivery,
    DeliveryLine,
    DeliveryStatusChange,
    FrameworkPrice,
    Item,
    Licence,
    OrderStatusChange,
    PurchaseOrder,
    PurchaseOrderLine,
    StockMovement,
    Supplier,
    SupplierMember,
)
from .services import retention_until, uscc_check_char

V, M, A, E, G, C, F, S = (
    ItemCategory.VEGETABLE,
    ItemCategory.MEAT,
    ItemCategory.AQUATIC,
    ItemCategory.EGG_DAIRY,
    ItemCategory.GRAIN_OIL,
    ItemCategory.CONDIMENT,
    ItemCategory.FRUIT,
    ItemCategory.SOY,
)
AMB, CHI, FRO = Storage.AMBIENT, Storage.CHILLED, Storage.FROZEN
PEST = ["pesticide_residue"]
VET = ["clenbuterol"]

# (food_code, name, category, unit, spec, shelf_life_days, storage, price_yuan, grams_per_head, quick_tests)
# Food codes match the meals app's composition table so recipes link to catalogue items.
CATALOGUE: list[tuple[str, str, str, str, str, int | None, str, str, int, list[str]]] = [
    ("SR11109", "卷心菜", V, "kg", "净菜", 5, AMB, "2.60", 60, PEST),
    ("SR11119", "大白菜", V, "kg", "净菜", 5, AMB, "2.20", 70, PEST),
    ("SR11116", "小白菜（青菜）", V, "kg", "净菜", 3, CHI, "4.50", 50, PEST),
    ("SR11457", "菠菜", V, "kg", "净菜", 3, CHI, "6.80", 40, PEST),
    ("SR11090", "西兰花", V, "kg", "一级", 5, CHI, "8.50", 40, PEST),
    ("SR11135", "花菜", V, "kg", "一级", 5, AMB, "5.60", 40, PEST),
    ("SR11124", "胡萝卜", V, "kg", "一级", 14, AMB, "3.20", 30, PEST),
    ("SR11529", "番茄", V, "kg", "一级", 7, AMB, "5.80", 50, PEST),
    ("SR11205", "黄瓜", V, "kg", "一级", 5, AMB, "4.60", 40, PEST),
    ("SR11209", "茄子", V, "kg", "长茄", 5, AMB, "4.80", 40, PEST),
    ("SR11333", "青椒", V, "kg", "一级", 7, AMB, "5.20", 25, PEST),
    ("SR11282", "洋葱", V, "kg", "黄皮", 30, AMB, "2.80", 20, []),
    ("SR11291", "葱", V, "kg", "小香葱", 3, CHI, "8.00", 3, PEST),
    ("SR11143", "芹菜", V, "kg", "西芹", 5, CHI, "4.40", 30, PEST),
    ("SR11253", "生菜", V, "kg", "净菜", 3, CHI, "6.00", 30, PEST),
    ("SR11238", "香菇", V, "kg", "鲜", 5, CHI, "14.00", 10, []),
    ("SR11052", "四季豆", V, "kg", "一级", 5, AMB, "7.60", 40, PEST),
    ("SR11043", "绿豆芽", V, "kg", "无根", 2, CHI, "3.00", 40, ["sodium_hydrosulfite"]),
    ("SR11422", "南瓜", V, "kg", "老南瓜", 30, AMB, "2.40", 50, []),
    ("SR11591", "冬瓜", V, "kg", "一级", 14, AMB, "1.80", 60, []),
    ("SR11270", "莲藕", V, "kg", "洪湖莲藕", 7, AMB, "7.20", 40, []),
    ("SR11430", "白萝卜", V, "kg", "一级", 14, AMB, "1.90", 40, []),
    ("SR11445", "海带", V, "kg", "鲜海带丝", 5, CHI, "6.40", 15, []),
    ("SR11477", "西葫芦", V, "kg", "一级", 7, AMB, "4.20", 40, PEST),
    ("SR11246", "韭菜", V, "kg", "一级", 3, CHI, "6.60", 20, PEST),
    ("SR11950", "木耳", V, "kg", "干木耳", 365, AMB, "68.00", 2, []),
    ("SR11352", "马铃薯", V, "kg", "黄心", 30, AMB, "3.00", 60, []),
    ("SR11507", "红薯", V, "kg", "一级", 30, AMB, "3.40", 30, []),
    ("SR11167", "甜玉米", V, "kg", "鲜玉米棒", 3, AMB, "4.00", 30, []),
    ("SR10060", "猪里脊", M, "kg", "冷鲜", 3, CHI, "32.00", 25, VET),
    ("SR10219", "猪肉末", M, "kg", "冷鲜 肥瘦3:7", 2, CHI, "26.00", 30, VET),
    ("SR10005", "五花肉", M, "kg", "冷鲜", 3, CHI, "28.00", 20, VET),
    ("SR10089", "猪排骨", M, "kg", "冷鲜 肋排", 3, CHI, "38.00", 25, VET),
    ("SR10024", "猪腿肉", M, "kg", "冷鲜 后腿", 3, CHI, "27.00", 30, VET),
    ("SR23572", "牛肉末", M, "kg", "冷鲜", 3, CHI, "62.00", 15, VET),
    ("SR13364", "牛腱肉", M, "kg", "冷冻", 180, FRO, "72.00", 15, VET),
    ("SR05062", "鸡胸肉", M, "kg", "冷鲜", 3, CHI, "18.00", 30, []),
    ("SR05075", "鸡腿肉", M, "kg", "冷鲜 去骨", 3, CHI, "21.00", 30, []),
    ("SR05100", "鸡翅", M, "kg", "冷冻 翅中", 180, FRO, "36.00", 20, []),
    ("SR05140", "鸭肉", M, "kg", "冷鲜", 3, CHI, "19.00", 20, []),
    ("SR15008", "鲤鱼", A, "kg", "鲜活", 1, CHI, "14.00", 30, ["malachite_green"]),
    ("SR15261", "罗非鱼", A, "kg", "冷鲜鱼片", 3, CHI, "22.00", 30, ["malachite_green"]),
    ("SR15064", "黄花鱼", A, "kg", "冷冻", 180, FRO, "30.00", 25, []),
    ("SR15015", "鳕鱼", A, "kg", "冷冻 鱼块", 270, FRO, "58.00", 20, []),
    ("SR15149", "虾", A, "kg", "冷冻 虾仁", 270, FRO, "48.00", 15, []),
    ("SR15175", "鱿鱼", A, "kg", "冷冻", 270, FRO, "32.00", 10, []),
    ("SR01123", "鸡蛋", E, "kg", "鲜鸡蛋 约60g/枚", 30, AMB, "11.00", 50, []),
    ("SR01077", "牛奶", E, "盒", "250mL 学生奶", 7, CHI, "2.80", 0, []),
    ("SR01116", "酸奶", E, "杯", "100g", 21, CHI, "2.50", 0, []),
    ("SR01009", "奶酪", E, "kg", "片装", 180, CHI, "88.00", 2, []),
    ("SR16126", "豆腐", S, "kg", "嫩豆腐", 2, CHI, "5.00", 40, []),
    ("SR16427", "老豆腐", S, "kg", "卤水老豆腐", 2, CHI, "5.60", 30, []),
    ("SR16108", "黄豆", S, "kg", "非转基因", 365, AMB, "8.00", 5, []),
    ("SR16120", "豆浆", S, "L", "鲜豆浆", 1, CHI, "4.00", 0, []),
    ("SR16087", "花生", S, "kg", "去壳", 270, AMB, "14.00", 3, []),
    ("SR12023", "芝麻", S, "kg", "白芝麻", 365, AMB, "24.00", 1, []),
    ("SR20450", "大米", G, "袋", "25kg 一级粳米", 365, AMB, "125.00", 120, []),
    ("SR20054", "糯米", G, "kg", "一级", 365, AMB, "7.20", 5, []),
    ("SR20081", "小麦面粉", G, "袋", "25kg 特一粉", 270, AMB, "110.00", 30, []),
    ("SR20120", "挂面（干）", G, "kg", "1kg/包", 365, AMB, "8.40", 10, []),
    ("SR20133", "米粉（干）", G, "kg", "1kg/包", 365, AMB, "9.60", 10, []),
    ("SR20038", "燕麦", G, "kg", "纯燕麦片", 365, AMB, "16.00", 3, []),
    ("SR20031", "小米", G, "kg", "一级", 365, AMB, "9.00", 5, []),
    ("SR20020", "玉米面", G, "kg", "细", 180, AMB, "5.60", 5, []),
    ("SR16080", "绿豆", G, "kg", "一级", 365, AMB, "12.00", 3, []),
    ("SR16001", "红豆", G, "kg", "一级", 365, AMB, "13.00", 3, []),
    ("SR04044", "大豆油", G, "桶", "5L 一级", 540, AMB, "62.00", 10, []),
    ("SR04582", "菜籽油", G, "桶", "5L 压榨一级", 540, AMB, "78.00", 10, []),
    ("SR04042", "花生油", G, "桶", "5L 压榨一级", 540, AMB, "118.00", 0, []),
    ("SR02047", "食盐", C, "袋", "400g 加碘", 1095, AMB, "2.00", 5, []),
    ("SR16124", "酱油", C, "瓶", "1.9L 酿造一级", 540, AMB, "18.00", 3, []),
    ("SR19335", "白砂糖", C, "kg", "一级", 720, AMB, "7.00", 2, []),
    ("SR02048", "醋", C, "瓶", "1.9L 酿造", 720, AMB, "9.50", 2, []),
    ("SR06176", "蚝油", C, "瓶", "700g", 540, AMB, "12.00", 1, []),
    ("SR20027", "玉米淀粉", C, "kg", "食用", 720, AMB, "6.00", 2, []),
    ("SR11215", "大蒜", C, "kg", "去皮", 14, CHI, "12.00", 3, []),
    ("SR11216", "生姜", C, "kg", "一级", 30, AMB, "10.00", 2, []),
    ("SR02009", "辣椒粉", C, "kg", "中辣", 365, AMB, "30.00", 0, []),
    ("SR09003", "苹果", F, "kg", "红富士 75mm", 30, AMB, "7.80", 100, PEST),
    ("SR09040", "香蕉", F, "kg", "一级", 5, AMB, "5.60", 100, []),
    ("SR09200", "橙子", F, "kg", "脐橙", 30, AMB, "7.00", 100, PEST),
    ("SR09252", "梨", F, "kg", "砀山酥梨", 30, AMB, "5.40", 100, PEST),
    ("SR09218", "橘子", F, "kg", "蜜橘", 14, AMB, "4.80", 100, PEST),
]

# (name, categories, producer) — the 11th's licence expires soon, the 12th's has expired.
SUPPLIERS = [
    ("{d}楚鲜蔬菜配送有限公司", [V], "{d}绿源蔬菜种植基地"),
    ("{d}江汉农产品供应链有限公司", [V, F], "江汉平原果蔬专业合作社"),
    ("湖北荆楚肉类食品有限公司", [M], "湖北荆楚肉类食品有限公司屠宰场"),
    ("{d}鑫旺冷鲜肉配送有限公司", [M], "{d}鑫旺生猪定点屠宰厂"),
    ("洪湖水产品配送有限公司", [A], "洪湖市水产养殖合作社"),
    ("{d}长江水产有限公司", [A], "长江渔业冷链加工厂"),
    ("{d}粮油贸易有限公司", [G], "湖北楚粮米业有限公司"),
    ("{d}禽蛋乳品配送有限公司", [E], "{d}绿野蛋鸡养殖场"),
    ("{d}味源调味品有限公司", [C], "湖北味源食品有限公司"),
    ("{d}豆制品加工厂", [S], "{d}豆制品加工厂"),
    ("{d}果之源果品有限公司", [F], "宜昌果之源合作社"),
    ("{d}阳光副食品商行", [S, C], "{d}阳光副食品商行"),
]
EXPIRING_INDEX, EXPIRED_INDEX = 10, 11
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _uscc(rng, district_code: str) -> str:
    body = "91" + district_code[:6] + "".join(rng.choice(USCC_CHARS) for _ in range(9))
    return body + uscc_check_char(body)


def _aware(day: date, hh: int, mm: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hh, mm)))


def _qc_pdf(supplier_name: str, report_no: str, category: str) -> bytes:
    """A one-page inspection report, drawn with reportlab's built-in CJK font (no font files)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    if "STSong-Light" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4)
    pdf.setFont("STSong-Light", 20)
    pdf.drawString(150, 780, "检 验 检 测 报 告")
    pdf.setFont("STSong-Light", 12)
    lines = [
        f"报告编号：{report_no}",
        f"委托单位：{supplier_name}",
        f"样品类别：{category}",
        "检验依据：GB 2763-2021 食品中农药最大残留限量；GB 2707-2016 鲜(冻)畜、禽产品",
        "检验结论：所检项目符合标准要求，合格。",
        "检验机构：荆州市食品药品检验所（演示数据）",
    ]
    for i, text in enumerate(lines):
        pdf.drawString(70, 720 - i * 26, text)
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


@transaction.atomic
def seed(ctx: Any) -> None:
    rng = ctx.rng
    today = ctx.today
    for d_index, district in enumerate(ctx.districts):
        suppliers, items, prices = _seed_catalogue(ctx, district, today)
        if d_index == 0:
            _seed_members(ctx, suppliers)
            campuses = [c for c in ctx.campuses if c.school.district_id == district.pk]
            _seed_week(ctx, district, campuses, suppliers, items, prices, today)
    del rng


def _seed_catalogue(ctx: Any, district: Any, today: date):
    rng = ctx.rng
    dname = district.name
    prefix = "荆州市" if district.code.startswith("4210") else ""
    suppliers: list[Supplier] = []
    licences: list[Licence] = []
    for i, (name, _cats, _producer) in enumerate(SUPPLIERS):
        supplier = Supplier(
            district=district,
            name=name.format(d=prefix + dname),
            uscc=_uscc(rng, district.code),
            contact_name=rng.choice("王李张刘陈杨黄赵") + rng.choice(["经理", "主管", "师傅"]),
            contact_phone=f"13{rng.randint(10**8, 10**9 - 1)}",
            address=f"湖北省荆州市{dname}{rng.choice(['江津', '楚都', '荆北', '纪南'])}路{rng.randint(1, 300)}号",
            district_approved=True,
            approved_at=_aware(today - timedelta(days=400), 9),
        )
        suppliers.append(supplier)
        licences.append(
            Licence(
                supplier=supplier,
                kind=LicenceKind.BUSINESS,
                number=supplier.uscc,
                issuer=f"{dname}市场监督管理局",
                issued_on=today - timedelta(days=rng.randint(800, 3000)),
                expires_on=None,
            )
        )
        if i == EXPIRING_INDEX:
            expires = today + timedelta(days=12)
        elif i == EXPIRED_INDEX:
            expires = today - timedelta(days=5)
        else:
            expires = today + timedelta(days=rng.randint(200, 1500))
        licences.append(
            Licence(
                supplier=supplier,
                kind=LicenceKind.FOOD_BUSINESS,
                number=f"JY1{district.code}{rng.randint(10**7, 10**8 - 1)}",
                issuer=f"{dname}市场监督管理局",
                issued_on=expires - timedelta(days=5 * 365),
                expires_on=expires,
            )
        )
        if M in SUPPLIERS[i][1]:
            licences.append(
                Licence(
                    supplier=supplier,
                    kind=LicenceKind.ANIMAL_EPIDEMIC,
                    number=f"(鄂)动防合字第{rng.randint(10**5, 10**6 - 1)}号",
                    issuer="荆州市农业农村局",
                    issued_on=today - timedelta(days=500),
                    expires_on=today + timedelta(days=rng.randint(300, 900)),
                )
            )
        licences.append(
            Licence(
                supplier=supplier,
                kind=LicenceKind.HEALTH,
                number=f"JKZ{rng.randint(10**6, 10**7 - 1)}",
                required=False,
                issued_on=today - timedelta(days=200),
                expires_on=today + timedelta(days=165),
            )
        )
    Supplier.objects.bulk_create(suppliers)
    Licence.objects.bulk_create(licences)

    items = [
        Item(
            district=district,
            code=f"{cat[:1].upper()}{n + 1:03d}",
            name=name,
            category=cat,
            unit=unit,
            spec=spec,
            shelf_life_days=shelf,
            storage=storage,
            food_code=code,
            quick_tests=tests,
        )
        for n, (code, name, cat, unit, spec, shelf, storage, _p, _g, tests) in enumerate(CATALOGUE)
    ]
    Item.objects.bulk_create(items)
    by_cat: dict[str, list[int]] = defaultdict(list)
    for s_index, (_n, cats, _p) in enumerate(SUPPLIERS):
        for cat in cats:
            by_cat[cat].append(s_index)
    prices: list[FrameworkPrice] = []
    change_day = today - timedelta(days=20)
    for item, row in zip(items, CATALOGUE, strict=True):
        base = Decimal(row[7])
        for rank, s_index in enumerate(by_cat[item.category]):
            fen = int((base * 100 * (Decimal("1") + Decimal(rank) / 25)).to_integral_value(ROUND_HALF_UP))
            # Every fifth item had a seasonal price change 20 days ago: version 2.
            if item.code.endswith(("5", "0")):
                prices.append(
                    FrameworkPrice(
                        district=district,
                        supplier=suppliers[s_index],
                        item=item,
                        price_fen=int(fen * 0.92),
                        valid_from=today - timedelta(days=120),
                        valid_to=change_day - timedelta(days=1),
                        version=1,
                        note="2026 秋季集采",
                    )
                )
                prices.append(
                    FrameworkPrice(
                        district=district,
                        supplier=suppliers[s_index],
                        item=item,
                        price_fen=fen,
                        valid_from=change_day,
                        version=2,
                        note="季节性调价",
                    )
                )
            else:
                prices.append(
                    FrameworkPrice(
                        district=district,
                        supplier=suppliers[s_index],
                        item=item,
                        price_fen=fen,
                        valid_from=today - timedelta(days=120),
                        version=1,
                        note="2026 秋季集采",
                    )
                )
    FrameworkPrice.objects.bulk_create(prices)
    current = {(p.supplier_id, p.item_id): p for p in prices if p.valid_to is None}
    return suppliers, items, current


def _seed_members(ctx: Any, suppliers: list[Supplier]) -> None:
    members = []
    first = User.objects.filter(username="supplier01").first()
    if first is not None:
        members.append(SupplierMember(supplier=suppliers[0], user=first, title="配送主管"))
    second = User(
        username="supplier02", role=Role.SUPPLIER_USER, display_name="肉类供应商联系人", password=ctx.password_hash
    )
    second.save()
    members.append(SupplierMember(supplier=suppliers[2], user=second, title="销售经理"))
    SupplierMember.objects.bulk_create(members)
    ctx.logins.append(("供应商 supplier (肉类 meat)", "supplier02", suppliers[2].name))


def _school_days(today: date, n: int) -> list[date]:
    days, day = [], today
    while len(days) < n:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return sorted(days)


def _next_school_day(today: date) -> date:
    day = today + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _qty(item: Item, grams: int, students: int, days: int = 1) -> Decimal:
    unit_kg = {"袋": Decimal(25), "桶": Decimal(5)}.get(item.unit, Decimal(1))
    if item.unit in ("盒", "杯"):
        return Decimal(students * days)
    raw = Decimal(grams * students * days) / 1000 / unit_kg
    step = Decimal("1") if item.unit in ("袋", "桶", "瓶") else Decimal("0.5")
    return max(step, (raw / step).to_integral_value(ROUND_HALF_UP) * step)


def _seed_week(ctx, district, campuses, suppliers, items, prices, today, tag: str = "D") -> None:
    rng = ctx.rng
    days = _school_days(today, 5)
    first_day = days[0]
    tomorrow = _next_school_day(today)
    students = dict(
        Student.objects.filter(campus__in=campuses).values_list("campus_id").annotate(n=Count("id")).order_by()
    )
    canteens = {c.campus_id: c for c in _canteens(campuses)}
    store = User.objects.filter(username="store01").first()
    manager = User.objects.filter(username="canteen01").first()
    grams = {row[1]: row[8] for row in CATALOGUE}
    by_cat: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        by_cat[item.category].append(item)

    # QC reports: one real PDF per supplier, shared by its batches (as suppliers do per lot).
    reports = {}
    for s in suppliers:
        path = f"procurement/qc/demo/{s.uscc}.pdf"
        if not default_storage.exists(path):
            path = default_storage.save(path, ContentFile(_qc_pdf(s.name, f"JZ{s.uscc[-8:]}", "食用农产品")))
        reports[s.pk] = path

    orders, lines, history = [], [], []
    deliveries, dlines, batches, checks, moves, dhistory = [], [], [], [], [], []
    counter = 0

    def order_for(campus, supplier, day, picks, status, days_cover=1):
        nonlocal counter
        counter += 1
        n = max(students.get(campus.pk, 0), 30)
        order = PurchaseOrder(
            number=f"PO{day:%Y%m%d}-{tag}{counter:05d}",
            district=district,
            campus=campus,
            canteen=canteens[campus.pk],
            supplier=supplier,
            delivery_day=day,
            meal_kind=MealKind.LUNCH,
            status=status,
            created_by=manager,
        )
        order_lines = []
        for item in picks:
            price = prices.get((supplier.pk, item.pk))
            if price is None:
                continue
            qty = _qty(item, grams[item.name], n, days_cover)
            order_lines.append(
                PurchaseOrderLine(
                    order=order,
                    item=item,
                    framework_price=price,
                    quantity=qty,
                    unit=item.unit,
                    price_fen=price.price_fen,
                    amount_fen=int((qty * price.price_fen).to_integral_value(ROUND_HALF_UP)),
                )
            )
        order.total_fen = sum(line.amount_fen for line in order_lines)
        orders.append(order)
        lines.extend(order_lines)
        chain = [
            OrderStatus.DRAFT,
            OrderStatus.SUBMITTED,
            OrderStatus.APPROVED,
            OrderStatus.SENT,
            OrderStatus.CONFIRMED,
            OrderStatus.DELIVERED,
            OrderStatus.CLOSED,
        ]
        stop = chain.index(status) if status in chain else chain.index(OrderStatus.CLOSED)
        placed = _aware(day - timedelta(days=2), 15)
        for k in range(stop + 1):
            history.append(
                OrderStatusChange(
                    order=order,
                    from_status=chain[k - 1] if k else "",
                    to_status=chain[k],
                    actor_label=["canteen01", "canteen01", "school01", "canteen01", "supplier", "store01", "canteen01"][
                        k
                    ],
                    at=placed + timedelta(hours=3 * k) if k < 5 else _aware(day, 7 + k),
                )
            )
        return order, order_lines

    def deliver(order, order_lines, day, issue_share: Decimal | None, refused: str = ""):
        """An accepted delivery (a few lines partly accepted); with `refused`, a delivery turned
        away at the gate (every line rejected, nothing received) before the replacement."""
        nonlocal counter
        supplier = order.supplier
        arrived = _aware(day, 5 if refused else 6, rng.randint(10, 55))
        delivery = Delivery(
            number=f"DL{day:%Y%m%d}-{tag}{counter:05d}{'R' if refused else ''}",
            order=order,
            district=district,
            campus=order.campus,
            supplier=supplier,
            status=DeliveryStatus.ACCEPTED,
            vehicle_plate=f"鄂D·{rng.randint(10000, 99999)}",
            driver_name=rng.choice("王李张刘陈") + "师傅",
            dispatched_at=arrived - timedelta(minutes=rng.randint(30, 90)),
            arrived_at=arrived,
            accepted_at=arrived + timedelta(minutes=20),
            accepted_by=store,
            arrival_temperature_c=Decimal("11.5" if refused else rng.choice(["3.5", "4.0", "4.5", "5.0"])),
        )
        accepted_fen, any_partial = 0, False
        for line in order_lines:
            item = line.item
            roll = rng.random()
            result = CheckResult.REJECT if refused else CheckResult.PARTIAL if roll < 0.015 else CheckResult.ACCEPT
            accepted = {
                CheckResult.ACCEPT: line.quantity,
                CheckResult.PARTIAL: (line.quantity * Decimal("0.9")).quantize(Decimal("0.001")),
                CheckResult.REJECT: Decimal("0"),
            }[result]
            any_partial |= result != CheckResult.ACCEPT
            shelf = item.shelf_life_days
            produced = day - timedelta(
                days=rng.randint(0, min(1, (shelf or 2) - 1)) if (shelf or 99) <= 10 else rng.randint(10, 60)
            )
            expires = produced + timedelta(days=shelf) if shelf else None
            dline = DeliveryLine(
                delivery=delivery,
                order_line=line,
                item=item,
                quantity=line.quantity,
                unit=line.unit,
                price_fen=line.price_fen,
            )
            issued = accepted if issue_share is None else (accepted * issue_share).quantize(Decimal("0.001"))
            temp = {Storage.CHILLED: "11.5" if refused else "3.5", Storage.FROZEN: "-18.0"}.get(item.storage)
            batch = Batch(
                delivery_line=dline,
                district=district,
                campus=order.campus,
                supplier=supplier,
                item=item,
                batch_number=f"{produced:%Y%m%d}{rng.randint(100, 999)}",
                producer=SUPPLIERS[suppliers.index(supplier)][2].format(d="荆州市" + district.name),
                producer_licence=f"SC{rng.randint(10**13, 10**14 - 1)}",
                origin="湖北荆州",
                production_date=produced,
                shelf_life_days=shelf,
                expires_on=expires,
                quantity=line.quantity,
                unit=line.unit,
                accepted_quantity=accepted,
                on_hand=accepted - issued,
                qc_report=reports[supplier.pk],
                qc_report_content_type="application/pdf",
                qc_report_sha256="",
                quick_tests=[
                    {"test": t, "value": f"{rng.uniform(2, 30):.1f}", "unit": "%", "passed": True}
                    for t in item.quick_tests
                ],
                arrival_temperature_c=Decimal(temp) if temp else None,
                status={
                    CheckResult.ACCEPT: BatchStatus.ACCEPTED,
                    CheckResult.PARTIAL: BatchStatus.PARTIALLY_ACCEPTED,
                    CheckResult.REJECT: BatchStatus.REJECTED,
                }[result],
                accepted_at=delivery.accepted_at,
            )
            dlines.append(dline)
            batches.append(batch)
            checks.append(
                AcceptanceCheck(
                    delivery_line=dline,
                    batch=batch,
                    district=district,
                    campus=order.campus,
                    supplier=supplier,
                    result=result,
                    accepted_quantity=accepted,
                    rejected_quantity=line.quantity - accepted,
                    reason=refused or ("" if result == CheckResult.ACCEPT else "部分外叶腐烂，按实收计"),
                    checked_by=store,
                    checked_by_label="store01",
                    checked_at=delivery.accepted_at,
                    record={
                        "item": item.name,
                        "spec": item.spec,
                        "quantity": str(line.quantity),
                        "unit": line.unit,
                        "batch_number": batch.batch_number,
                        "producer": batch.producer,
                        "production_date": str(produced),
                        "shelf_life_days": shelf,
                        "expires_on": str(expires or ""),
                        "purchase_date": str(day),
                        "received_on": str(day),
                        "supplier": supplier.name,
                        "supplier_uscc": supplier.uscc,
                    },
                    retain_until=retention_until(expires_on=expires, checked_on=day),
                )
            )
            if refused:
                continue  # nothing received, nothing issued; the order line waits for the replacement
            moves.append(
                StockMovement(
                    batch=batch,
                    district=district,
                    campus=order.campus,
                    item=item,
                    kind=MovementKind.RECEIPT,
                    quantity=accepted,
                    day=day,
                    reference=delivery.number,
                    actor=store,
                    at=delivery.accepted_at,
                )
            )
            if issued > 0:
                moves.append(
                    StockMovement(
                        batch=batch,
                        district=district,
                        campus=order.campus,
                        item=item,
                        kind=MovementKind.ISSUE,
                        quantity=-issued,
                        day=day,
                        meal_kind=MealKind.LUNCH,
                        reference=f"IS{day:%Y%m%d}-{tag}{counter:05d}",
                        actor=store,
                        at=_aware(day, 9, 30),
                    )
                )
            line.accepted_quantity = accepted
            line.delivered_quantity = line.quantity
            accepted_fen += int((accepted * line.price_fen).to_integral_value(ROUND_HALF_UP))
        delivery.accepted_fen = accepted_fen
        if refused:
            delivery.status = DeliveryStatus.REJECTED
        elif any_partial:
            delivery.status = DeliveryStatus.PARTIALLY_ACCEPTED
        deliveries.append(delivery)
        for k, (frm, to) in enumerate(
            [
                ("", DeliveryStatus.DISPATCHED),
                (DeliveryStatus.DISPATCHED, DeliveryStatus.ARRIVED),
                (DeliveryStatus.ARRIVED, delivery.status),
            ]
        ):
            dhistory.append(
                DeliveryStatusChange(
                    delivery=delivery,
                    from_status=frm,
                    to_status=to,
                    actor_label=["supplier", "store01", "store01"][k],
                    at=[delivery.dispatched_at, arrived, delivery.accepted_at][k],
                )
            )

    veg_suppliers = [suppliers[0], suppliers[1]]
    meat_suppliers = [suppliers[2], suppliers[3]]
    for c_index, campus in enumerate(ctx.progress(campuses, desc="采购 procurement", total=len(campuses))):
        veg, meat = veg_suppliers[c_index % 2], meat_suppliers[c_index % 2]
        # Long-life goods once a week, issued a fifth a day (so stock remains).
        pantry = [*rng.sample(by_cat[G][:4], 2), *rng.sample(by_cat[C], 3)]
        for supplier, picks in (
            (suppliers[6], [p for p in pantry if p.category == G]),
            (suppliers[8], [p for p in pantry if p.category == C]),
        ):
            order, order_lines = order_for(campus, supplier, first_day, picks, OrderStatus.CLOSED, days_cover=5)
            deliver(order, order_lines, first_day, Decimal("0.2"))
        for day in days:
            status = OrderStatus.DELIVERED if day == today else OrderStatus.CLOSED
            fresh = rng.sample([i for i in by_cat[V] if (i.shelf_life_days or 0) <= 14], 4)
            order, order_lines = order_for(campus, veg, day, fresh, status)
            deliver(order, order_lines, day, None)
            order, order_lines = order_for(
                campus, meat, day, rng.sample([i for i in by_cat[M] if i.storage == CHI], 2), status
            )
            if c_index in (4, 19) and day == days[1]:
                # A warm truck turned away at the gate, then the supplier's replacement run.
                deliver(order, order_lines, day, None, refused="冷链车厢温度 11.5℃，超过 8℃，拒收")
            deliver(order, order_lines, day, None)
            order, order_lines = order_for(
                campus, suppliers[7], day, [i for i in by_cat[E] if i.name in ("鸡蛋", "牛奶")], status
            )
            deliver(order, order_lines, day, None)
        # Tomorrow: orders waiting at every step before delivery (portal, approvals, 集配 view).
        step = [OrderStatus.SUBMITTED, OrderStatus.APPROVED, OrderStatus.SENT, OrderStatus.CONFIRMED][c_index % 4]
        order_for(campus, veg, tomorrow, rng.sample(by_cat[V][:20], 4), step)
        order_for(campus, meat, tomorrow, rng.sample([i for i in by_cat[M] if i.storage == CHI], 2), step)
        if c_index % 3 == 0:
            order_for(campus, suppliers[4], tomorrow, [by_cat[A][0], by_cat[A][1]], OrderStatus.SENT)

    # Orders closed after partial acceptance moved through partially_delivered: fine for a demo,
    # but keep each order's total and lines consistent.
    PurchaseOrder.objects.bulk_create(orders, batch_size=1000)
    PurchaseOrderLine.objects.bulk_create(lines, batch_size=2000)
    OrderStatusChange.objects.bulk_create(history, batch_size=2000)
    Delivery.objects.bulk_create(deliveries, batch_size=1000)
    DeliveryStatusChange.objects.bulk_create(dhistory, batch_size=2000)
    DeliveryLine.objects.bulk_create(dlines, batch_size=2000)
    Batch.objects.bulk_create(batches, batch_size=2000)
    AcceptanceCheck.objects.bulk_create(checks, batch_size=2000)
    StockMovement.objects.bulk_create(moves, batch_size=2000)
    _book_food_cost(deliveries)


def _book_food_cost(deliveries: list[Delivery]) -> None:
    """Each accepted demo delivery's cost and payable, on its acceptance day, through the ledger
    service that delivery_accept calls: the demo's disclosure then shows food spending equal to
    the accepted deliveries (issue 22), invoices or not."""
    suppliers = {s.pk: s.name for s in Supplier.objects.filter(pk__in={d.supplier_id for d in deliveries})}
    with transaction.atomic():
        for delivery in deliveries:
            if delivery.accepted_fen <= 0:
                continue
            food_cost.goods_received_record(
                delivery_id=delivery.pk,
                supplier_id=delivery.supplier_id,
                supplier_name=suppliers[delivery.supplier_id],
                campus=delivery.campus_id,
                amount=Money(delivery.accepted_fen),
                on=timezone.localtime(delivery.accepted_at).date(),
                reference=delivery.number,
                actor=None,
            )


def _canteens(campuses):
    from canteen.org.models import Canteen

    seen = {}
    for canteen in Canteen.objects.filter(campus__in=campuses).order_by("code"):
        seen.setdefault(canteen.campus_id, canteen)
    return seen.values()
