from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "canteen.core"
    label = "core"
    verbose_name = "核心 Core"

    def ready(self) -> None:
        from canteen.core import checks  # noqa: F401 - registers the database checks
        from canteen.core.i18n import localize_choices

        localize_choices()
