from canteen.core.errors import Conflict, DomainError, NotFound, ValidationFailed


class UnknownIngredient(ValidationFailed):
    code = "meals_unknown_ingredient"
    message_zh = "食物成分表中没有该食材"
    message_en = "This ingredient is not in the food composition table"


class InvalidRecipe(ValidationFailed):
    code = "meals_invalid_recipe"
    message_zh = "菜谱有误：每份克数须大于 0 且食材不重复"
    message_en = "Invalid recipe: grams per portion must be positive and ingredients unique"


class InvalidSession(ValidationFailed):
    code = "meals_invalid_session"
    message_zh = "供餐时段有误：结束时间须晚于开始时间，且同一校区各时段不能重叠"
    message_en = "Invalid meal session: the end must follow the start, and sessions of a campus must not overlap"


class WrongCampus(ValidationFailed):
    code = "meals_wrong_campus"
    message_zh = "套餐、菜品或时段不属于该校区"
    message_en = "The set meal, dish or session does not belong to this campus"


class ChangeReasonRequired(ValidationFailed):
    code = "meals_change_reason_required"
    message_zh = "已发布的菜单修改时必须填写原因"
    message_en = "A change to a published menu needs a reason"


class EmptyMenu(ValidationFailed):
    code = "meals_empty_menu"
    message_zh = "空菜单不能发布"
    message_en = "An empty menu cannot be published"


class AlreadyPublished(Conflict):
    code = "meals_already_published"
    message_zh = "菜单已发布且内容未变"
    message_en = "The menu is already published with this content"


class BoardNotFound(NotFound):
    code = "meals_board_not_found"
    message_zh = "菜单屏地址无效或已停用"
    message_en = "This menu-board address is not valid or was retired"


class MealsError(DomainError):
    code = "meals_error"
