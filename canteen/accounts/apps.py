from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "canteen.accounts"
    label = "accounts"
    verbose_name = "账号安全 Account security"

    def ready(self) -> None:
        from . import signals  # noqa: F401
