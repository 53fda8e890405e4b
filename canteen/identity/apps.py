from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "canteen.identity"
    label = "identity"
    verbose_name = "身份识别 Identity"
    # Menu entries: a list of canteen.core.navigation.NavItem.
    nav: list = []
