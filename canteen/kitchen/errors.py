from canteen.core.errors import Conflict, DomainError, ValidationFailed


class CameraUrlInvalid(ValidationFailed):
    code = "kitchen.camera_url_invalid"
    message_zh = "摄像头地址无效（支持 rtsp/rtsps/udp/tcp/srt/http/https）"
    message_en = "The camera address is not valid (rtsp, rtsps, udp, tcp, srt, http, https)"


class CredentialsUnreadable(DomainError):
    code = "kitchen.credentials_unreadable"
    status = 500
    message_zh = "摄像头凭据无法解密（密钥已更换？）"
    message_en = "The camera credentials cannot be decrypted (was the key changed?)"


class SampleTooSmall(ValidationFailed):
    code = "kitchen.sample_too_small"
    message_zh = "留样量不得少于 125 克"
    message_en = "A food sample must weigh at least 125 g"


class SampleKeptTooShort(ValidationFailed):
    code = "kitchen.sample_kept_too_short"
    message_zh = "留样须保存至少 48 小时"
    message_en = "A food sample must be kept at least 48 hours"


class SampleStillHeld(Conflict):
    code = "kitchen.sample_still_held"
    message_zh = "留样未满保存期，不能处理"
    message_en = "The sample's keeping period has not ended yet"


class DuplicateRecord(Conflict):
    code = "kitchen.duplicate_record"
    message_zh = "该记录已存在"
    message_en = "This record already exists"


class StaffOffDuty(Conflict):
    code = "kitchen.staff_off_duty"
    message_zh = "该员工今日晨检不合格，已离岗"
    message_en = "This staff member failed today's morning check and is off duty"


class DisinfectionTooShort(ValidationFailed):
    code = "kitchen.disinfection_too_short"
    message_zh = "消毒时间或条件未达到要求"
    message_en = "The disinfection time or conditions are below the requirement"


class InvalidScore(ValidationFailed):
    code = "kitchen.invalid_score"
    message_zh = "评分须在 1–5 之间"
    message_en = "Scores must be between 1 and 5"
