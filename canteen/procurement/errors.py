"""Procurement's domain errors (code + Chinese + English); the API maps them to one body."""

from canteen.core.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed


class SupplierLicenceExpired(Conflict):
    code = "supplier_licence_expired"
    message_zh = "供应商证照已过期，不能下单或送货"
    message_en = "A required licence of this supplier has expired: it cannot receive orders or deliver"


class SupplierLicenceMissing(Conflict):
    code = "supplier_licence_missing"
    message_zh = "供应商缺少必需的证照（营业执照、食品经营/生产许可证）"
    message_en = "The supplier lacks a required licence (business licence, food business/production licence)"


class SupplierNotApproved(Conflict):
    code = "supplier_not_approved"
    message_zh = "供应商未经区教育局准入或已停用"
    message_en = "The supplier is not approved by the district or is inactive"


class NotInCatalogue(ValidationFailed):
    code = "not_in_catalogue"
    message_zh = "该食材不在区集采目录中，或该供应商在此日期没有集采价格"
    message_en = "The item is not in the district catalogue, or this supplier has no framework price on that day"


class InvalidUpload(ValidationFailed):
    code = "invalid_upload"
    message_zh = "文件须为 PDF 或图片（JPEG/PNG/WebP），且不超过大小限制"
    message_en = "The file must be a PDF or an image (JPEG/PNG/WebP) within the size limit"


TRACE_FIELDS = {
    "batch_number": ("批号", "batch number"),
    "producer": ("生产者", "producer"),
    "production_date": ("生产日期", "production date"),
    "qc_report": ("检验报告", "QC report"),
}


class TraceDataMissing(ValidationFailed):
    code = "trace_data_missing"
    message_zh = "批次缺少追溯信息（批号、生产者、生产日期、检验报告），不能验收"
    message_en = (
        "The batch lacks its trace data (batch number, producer, production date, QC report): it cannot be accepted"
    )

    def detail_text(self, language: str | None) -> str:
        """ "白菜：缺少检验报告" for each line, not the details dict (its field codes)."""
        english = (language or "").startswith("en")
        parts = []
        for line in self.details.get("lines") or [self.details]:
            fields = [TRACE_FIELDS.get(name, (name, name))[1 if english else 0] for name in line.get("missing", [])]
            if fields:
                joined = ", ".join(fields) if english else "、".join(fields)
                parts.append(
                    f"{line.get('item', '')}: no {joined}" if english else f"{line.get('item', '')}：缺少{joined}"
                )
        return "; ".join(parts) if english else "；".join(parts)


class TraceDataMissingAtDispatch(TraceDataMissing):
    code = "trace_data_missing"
    message_zh = "每个批次须填写批号、生产者并上传检验报告后才能送货"
    message_en = "Every batch needs its batch number, producer and QC report before it can be dispatched"


class AcceptanceRefused(ValidationFailed):
    code = "acceptance_refused"
    message_zh = "该批次不符合验收条件，只能拒收"
    message_en = "This batch does not meet the acceptance conditions; it can only be rejected"


class InsufficientStock(Conflict):
    code = "insufficient_stock"
    message_zh = "库存不足（已过期批次不可出库）"
    message_en = "Not enough stock (expired batches cannot be issued)"


class BatchQuarantined(Conflict):
    code = "batch_quarantined"
    message_zh = "该批次已被召回封存，不能出库"
    message_en = "This batch is quarantined under a recall and cannot be issued"


class NotYourSupplier(Forbidden):
    code = "not_your_supplier"
    message_zh = "您不属于该供应商"
    message_en = "You do not work for this supplier"


class NotPermitted(Forbidden):
    code = "procurement_forbidden"


class ProcurementNotFound(NotFound):
    code = "not_found"


__all__ = [
    "AcceptanceRefused",
    "DomainError",
    "InsufficientStock",
    "InvalidUpload",
    "NotInCatalogue",
    "NotPermitted",
    "NotYourSupplier",
    "ProcurementNotFound",
    "SupplierLicenceExpired",
    "SupplierLicenceMissing",
    "SupplierNotApproved",
    "TraceDataMissing",
]


class ColdChainMustReject(ValidationFailed):
    code = "coldchain_must_reject"
    message_zh = "运输途中超温时间超过规定，只能拒收"
    message_en = "The goods were out of their temperature range longer than the rule allows; they can only be rejected"


class ColdChainNeedsEvidence(ValidationFailed):
    code = "coldchain_needs_evidence"
    message_zh = "运输途中曾超温：接收须填写原因并上传照片，或拒收"
    message_en = "The goods were out of range in transit: accept only with a reason and a photo, or reject"
