from canteen.core.worker import periodic

from .services import face_data_purge_departed


@periodic(seconds=3600, name="identity.purge_departed")
def purge_departed() -> str:
    """Retention: delete the face data of students no longer enrolled (see the impact assessment)."""
    return f"{face_data_purge_departed()} student(s) purged"
