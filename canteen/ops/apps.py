from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "canteen.ops"
    label = "ops"
    verbose_name = "运维 Operations"
