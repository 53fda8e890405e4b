"""Trace errors: one code each, both languages."""

from canteen.core.errors import Conflict, DomainError, Forbidden, NotFound


class TraceCodeNotFound(NotFound):
    code = "trace_code_not_found"
    message_zh = "未找到该溯源码"
    message_en = "No batch carries this trace code"


class BatchNotAccepted(Conflict):
    code = "batch_not_accepted"
    message_zh = "批次尚未验收通过，不能生成溯源码"
    message_en = "Only an accepted batch gets a trace code"


class DeviceTokenInvalid(Forbidden):
    code = "device_token_invalid"
    status = 401
    message_zh = "设备令牌无效或已停用"
    message_en = "The device token is unknown or revoked"


class TrackPointsInvalid(DomainError):
    code = "track_points_invalid"
    message_zh = "轨迹点数据有误"
    message_en = "Some track points are not valid"


class TrackOwnershipConflict(Conflict):
    code = "track_delivery_mismatch"
    message_zh = "该行程已关联到其他配送单或供应商"
    message_en = "This trip belongs to another delivery or supplier"


class EpcisImportRejected(DomainError):
    code = "epcis_import_rejected"
    status = 422
    message_zh = "EPCIS 文件被拒绝，未导入任何事件"
    message_en = "The EPCIS document was rejected; nothing was imported"


class RecallExists(Conflict):
    code = "recall_exists"
    message_zh = "该批次已有进行中的召回"
    message_en = "This batch already has an open recall"


class EpcisDocumentTooLarge(DomainError):
    code = "epcis_document_too_large"
    status = 413
    message_zh = "EPCIS 文件过大，未读取、未导入"
    message_en = "The EPCIS document is too large; it was not read and nothing was imported"


class RecallNotClosable(Conflict):
    code = "recall_not_closable"
    message_zh = "尚有校区未确认下架，召回不能关闭"
    message_en = "Some campuses have not confirmed the recall; it cannot be closed yet"


class RecallClosed(Conflict):
    code = "recall_closed"
    message_zh = "该召回已关闭"
    message_en = "This recall is closed"
