from django.db import models


class Role(models.TextChoices):
    CITY_REGULATOR = "city_regulator", "市级监管 City regulator"
    DISTRICT_REGULATOR = "district_regulator", "区级监管 District regulator"
    SCHOOL_ADMIN = "school_admin", "学校管理员 School admin"
    CANTEEN_MANAGER = "canteen_manager", "食堂负责人 Canteen manager"
    WINDOW_OPERATOR = "window_operator", "窗口操作员 Window operator"
    STOREKEEPER = "storekeeper", "库管员 Storekeeper"
    SUPPLIER_USER = "supplier_user", "供应商 Supplier"
    GUARDIAN = "guardian", "家长 Guardian"


REGULATOR_ROLES = frozenset({Role.CITY_REGULATOR, Role.DISTRICT_REGULATOR})
CAMPUS_ROLES = frozenset({Role.CANTEEN_MANAGER, Role.WINDOW_OPERATOR, Role.STOREKEEPER})
SCHOOL_STAFF_ROLES = frozenset({Role.SCHOOL_ADMIN, *CAMPUS_ROLES})


class SchoolStage(models.TextChoices):
    PRIMARY = "primary", "小学 Primary"
    JUNIOR = "junior", "初中 Junior secondary"
    SENIOR = "senior", "高中 Senior secondary"
    NINE_YEAR = "nine_year", "九年一贯制 Nine-year"


class StudentStatus(models.TextChoices):
    ENROLLED = "enrolled", "在读 Enrolled"
    SUSPENDED = "suspended", "休学 Suspended"
    LEFT = "left", "离校 Left"
    GRADUATED = "graduated", "毕业 Graduated"


class Gender(models.TextChoices):
    MALE = "m", "男 Male"
    FEMALE = "f", "女 Female"


class Relation(models.TextChoices):
    FATHER = "father", "父亲 Father"
    MOTHER = "mother", "母亲 Mother"
    GRANDPARENT = "grandparent", "祖辈 Grandparent"
    OTHER = "other", "其他监护人 Other guardian"
