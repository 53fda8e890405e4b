"""The guardian's phone page and the staff class list, through Django's test client."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from canteen.identity import samples as faces
from canteen.identity import services
from canteen.identity.models import FaceConsent, FaceTemplate
from canteen.org.choices import Role

pytestmark = pytest.mark.django_db


def signed_in(client, user):
    client.force_login(user)
    return client


def test_guardian_page_consent_upload_withdraw(world, client, portrait_jpegs, group_photo):
    student = world.students[0]
    c = signed_in(client, world.user(Role.GUARDIAN))
    assert world.students[0].name in c.get(reverse("identity:children")).content.decode()
    page = c.get(reverse("identity:child", args=[student.pk])).content.decode()
    assert "人脸识别单独同意书" in page
    assert "不同意不影响就餐" in page
    # Not ticking the box records nothing.
    c.post(reverse("identity:consent", args=[student.pk]), {"text_version": "2026-11-v1"})
    assert not FaceConsent.objects.exists()
    c.post(reverse("identity:consent", args=[student.pk]), {"agree": "on", "text_version": "2026-11-v1"})
    assert FaceConsent.objects.filter(student=student, withdrawn_at__isnull=True).exists()
    r = c.post(
        reverse("identity:enrol", args=[student.pk]),
        {"photos": SimpleUploadedFile("g.jpg", faces.jpeg_bytes(group_photo), "image/jpeg")},
        follow=True,
    )
    assert "请只拍学生本人" in r.content.decode()
    r = c.post(
        reverse("identity:enrol", args=[student.pk]),
        {"photos": SimpleUploadedFile("a.jpg", portrait_jpegs["astronaut"], "image/jpeg")},
        follow=True,
    )
    assert "已完成人脸登记" in r.content.decode()
    assert FaceTemplate.objects.filter(student=student).count() == 1
    r = c.post(reverse("identity:withdraw", args=[student.pk]), {"reason": "x"}, follow=True)
    assert "已撤回同意" in r.content.decode()
    assert not FaceTemplate.objects.exists()


def test_guardian_page_shows_the_qr_code_and_sets_a_pin(world, client):
    student = world.students[0]
    c = signed_in(client, world.user(Role.GUARDIAN))
    r = c.post(reverse("identity:qr-issue", args=[student.pk]), follow=True)
    assert 'data-testid="qr-code"' in r.content.decode()
    assert "<svg" in r.content.decode()
    r = c.post(reverse("identity:pin", args=[student.pk]), {"pin": "1234"}, follow=True)
    assert "PIN 须为 4–8 位数字" in r.content.decode()
    r = c.post(reverse("identity:pin", args=[student.pk]), {"pin": "8391"}, follow=True)
    assert "PIN 已设置" in r.content.decode()


def test_a_guardian_cannot_open_another_childs_page(world, client):
    c = signed_in(client, world.user(Role.GUARDIAN))
    assert c.get(reverse("identity:child", args=[world.students[1].pk])).status_code in (403, 404)


def test_staff_class_page_lists_status_and_captures(world, client, portrait_jpegs):
    student = world.students[0]
    services.consent_give(student=student, actor=world.user(Role.GUARDIAN))
    c = signed_in(client, world.user(Role.CANTEEN_MANAGER))
    assert student.school_class.name in c.get(reverse("identity:classes")).content.decode()
    url = reverse("identity:class", args=[student.school_class_id])
    page = c.get(url).content.decode()
    assert "已同意，待上传照片" in page
    assert "需家长在手机上同意" in page  # the two classmates without consent
    r = c.post(
        reverse("identity:enrol", args=[student.pk]),
        {
            "photos": SimpleUploadedFile("a.jpg", portrait_jpegs["tom"], "image/jpeg"),
            "next": "class",
            "class_id": str(student.school_class_id),
        },
        follow=True,
    )
    assert r.redirect_chain[-1][0] == url
    assert "已开通刷脸" in r.content.decode()
    assert FaceTemplate.objects.get(student=student).source == "staff_capture"
    pdf = c.get(reverse("identity:class-cards", args=[student.school_class_id]))
    assert pdf.content.startswith(b"%PDF")


def test_regulator_statistics_page(world, client):
    c = signed_in(client, world.user(Role.CITY_REGULATOR))
    page = c.get(reverse("identity:statistics")).content.decode()
    assert "人脸识别同意统计" in page
    assert page.count("<tr>") == 1 + 8  # header + the city's 8 campuses
    c = signed_in(client, world.user(Role.STOREKEEPER))
    assert c.get(reverse("identity:statistics")).status_code == 403
