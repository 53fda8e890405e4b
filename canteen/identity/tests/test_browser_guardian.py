"""In a real browser on a phone-sized screen: the guardian reads the consent, agrees, uploads a
photo, sees the child enrolled, then withdraws and is pointed to the QR code."""

import pytest

from canteen.identity import samples as faces
from canteen.identity.models import FaceTemplate
from canteen.org.choices import Role

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_guardian_consents_uploads_and_withdraws_on_a_phone(world, page, login, live_server):
    student = world.students[0]
    guardian = world.user(Role.GUARDIAN)
    login(guardian.username, "pw-" + guardian.username)
    page.set_viewport_size({"width": 390, "height": 844})  # after login: the menu folds away on a phone
    page.goto(f"{live_server.url}/identity/children/")
    page.click("[data-testid=child-card]")
    assert "未开通刷脸" in page.inner_text("[data-testid=face-status]")
    assert "不同意不影响就餐" in page.inner_text("[data-testid=consent-form]")
    page.check("[data-testid=agree]")
    page.click("[data-testid=consent-submit]")
    page.wait_for_selector("[data-testid=enrol-form]")
    page.set_input_files(
        "[data-testid=photo-input]",
        files=[{"name": "child.jpg", "mimeType": "image/jpeg", "buffer": faces.jpeg_bytes(faces.astronaut())}],
    )
    page.click("[data-testid=enrol-submit]")
    page.wait_for_selector("text=已完成人脸登记")
    assert "已开通刷脸" in page.inner_text("[data-testid=face-status]")
    assert FaceTemplate.objects.filter(student=student).count() == 1
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("[data-testid=withdraw]")
    page.wait_for_selector("text=已撤回同意")
    assert not FaceTemplate.objects.filter(student=student).exists()
    page.click("[data-testid=qr-issue]")
    page.wait_for_selector("[data-testid=qr-code] svg")
