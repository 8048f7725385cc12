from django.apps import AppConfig


class AnalysisConfig(AppConfig):
    name = "analysis"
    verbose_name = "Call analysis"

    def ready(self) -> None:
        from analysis import receivers  # noqa: F401  (connects them)
