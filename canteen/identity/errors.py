"""Identity errors: each carries a stable code and a reason a guardian or staff member can act on."""

from __future__ import annotations

from typing import Any

from canteen.core.errors import Conflict, DomainError, Forbidden, NotFound

# code -> (Chinese, English). The reason is shown to the guardian on the phone page, so it says
# what to do next, not only what went wrong.
PHOTO_REASONS: dict[str, tuple[str, str]] = {
    "not_an_image": (
        "文件不是可识别的图片，请上传 JPEG 或 PNG 照片",
        "The file is not a readable image; upload a JPEG or PNG photo",
    ),
    "too_large": (
        "图片太大，请上传小于 {max_mb} MB、不超过 {max_mp} 百万像素的照片",
        "The image is too large; upload a photo under {max_mb} MB and {max_mp} megapixels",
    ),
    "no_face": (
        "照片中没有找到人脸，请正对镜头、露出完整面部后重拍",
        "No face was found; take the photo facing the camera with the whole face visible",
    ),
    "several_faces": (
        "照片中有 {count} 张人脸，请只拍学生本人",
        "The photo shows {count} faces; photograph the student alone",
    ),
    "face_too_small": (
        "人脸太小（{size} 像素），请靠近一些，让脸部占满画面的三分之一以上",
        "The face is too small ({size} px); move closer so the face fills at least a third of the frame",
    ),
    "too_dark": (
        "照片太暗，请在光线充足处重拍",
        "The photo is too dark; retake it in good light",
    ),
    "different_people": (
        "第 {photo} 张照片与第 1 张不像同一个人，请只上传该学生本人的照片",
        "Photo {photo} does not look like the same person as photo 1; upload photos of this student only",
    ),
    "too_blurry": (
        "照片模糊，请保持手机稳定、对焦后重拍",
        "The photo is blurred; hold the phone still and let it focus",
    ),
}


class PhotoRejected(DomainError):
    """A photo that cannot produce a reliable template; `code` names the reason."""

    code = "photo_rejected"
    status = 400

    def __init__(self, reason: str, **params: Any) -> None:
        zh, en = PHOTO_REASONS[reason]
        super().__init__(zh.format(**params), en.format(**params), code=reason, details={"reason": reason, **params})
        self.reason = reason


class ConsentRequired(Forbidden):
    code = "face_consent_required"
    message_zh = "监护人尚未同意人脸识别，请使用二维码或学号+PIN"
    message_en = "The guardian has not consented to face recognition; use the QR code or student number + PIN"


class ConsentAlreadyGiven(Conflict):
    code = "face_consent_exists"
    message_zh = "已存在有效的人脸识别同意"
    message_en = "A valid face-recognition consent already exists"


class NotGuardianOfStudent(Forbidden):
    code = "not_guardian_of_student"
    message_zh = "您不是该学生的监护人"
    message_en = "You are not a guardian of this student"


class StudentNotFound(NotFound):
    code = "student_not_found"
    message_zh = "未找到该学生"
    message_en = "Student not found"


class CredentialInvalid(DomainError):
    code = "credential_invalid"
    status = 401
    message_zh = "凭证无效"
    message_en = "The credential is not valid"


class CredentialRevoked(CredentialInvalid):
    code = "credential_revoked"
    message_zh = "该二维码已作废，请使用新卡或联系学校"
    message_en = "This QR code has been revoked; use the new card or contact the school"


class CredentialWrongCampus(CredentialInvalid):
    code = "credential_wrong_campus"
    message_zh = "该学生不属于本校区"
    message_en = "This student does not belong to this campus"


class PinWrong(CredentialInvalid):
    code = "pin_wrong"
    message_zh = "学号或 PIN 不正确"
    message_en = "Student number or PIN is not correct"


class PinLocked(CredentialInvalid):
    code = "pin_locked"
    status = 423
    message_zh = "PIN 连续错误次数过多，已锁定，请稍后再试或联系老师"
    message_en = "Too many wrong PINs; the PIN is locked for a while. Try later or ask a teacher"


class PinNotSet(CredentialInvalid):
    code = "pin_not_set"
    message_zh = "该学生尚未设置 PIN"
    message_en = "No PIN has been set for this student"


class PinTooWeak(DomainError):
    code = "pin_too_weak"
    message_zh = "PIN 须为 4–8 位数字，且不能是连续或重复数字"
    message_en = "The PIN must be 4–8 digits and not a run or a repeat of one digit"


class GalleryPackageInvalid(DomainError):
    code = "gallery_package_invalid"
    message_zh = "人脸库数据包无法解密或已被篡改"
    message_en = "The gallery package cannot be decrypted or was tampered with"


class TemplateKeyMissing(DomainError):
    code = "face_template_key_missing"
    status = 500
    message_zh = "服务器未配置人脸模板密钥"
    message_en = "The server has no face-template key configured"
