"""The consent text a guardian reads before agreeing. Versioned: the version and a hash of the
exact text shown are stored with each consent, so a later wording change never rewrites what a
guardian agreed to. Change the text ⇒ add a new version; never edit an old one."""

from __future__ import annotations

import hashlib

STORAGE_STATEMENT_ZH = "存储于区教育局服务器，加密保存；仅发送至该学生所在校区的售饭窗口终端"
STORAGE_STATEMENT_EN = (
    "Stored on the district server, encrypted; sent only to the serving-window terminals of the student's campus"
)

TEXTS: dict[str, tuple[str, str]] = {
    "2026-11-v1": (
        "【人脸识别单独同意书】\n"
        "1. 目的：仅用于学校食堂售饭窗口确认学生身份并结算餐费，不用于考勤、监控或其他用途。\n"
        "2. 处理的信息：由照片计算出的人脸特征模板（128 维数值），不保存照片本身，"
        "除非您另行选择保留一张照片供窗口核对显示。\n"
        f"3. 存储与传输：{STORAGE_STATEMENT_ZH}。\n"
        "4. 保存期限：至您撤回同意或学生离校为止；撤回后模板在服务器和所有终端删除。\n"
        "5. 不同意不影响就餐：学生可使用二维码卡或学号+PIN，享有同样的服务。\n"
        "6. 您可随时在本页面撤回同意。学生未满十四周岁，本同意须由监护人作出。",
        "[Separate consent to face recognition]\n"
        "1. Purpose: only to confirm the student's identity and settle the meal fee at the canteen serving "
        "window; never for attendance, surveillance or any other purpose.\n"
        "2. Data processed: a face template (128 numbers) computed from the photo. The photo itself is not "
        "kept unless you separately choose to keep one photo for display at the window.\n"
        f"3. Storage and transfer: {STORAGE_STATEMENT_EN}.\n"
        "4. Retention: until you withdraw consent or the student leaves the school; on withdrawal the "
        "templates are deleted on the server and on every terminal.\n"
        "5. Refusing does not affect meals: the student can use a QR card or student number + PIN with "
        "the same service.\n"
        "6. You can withdraw at any time on this page. For a child under 14 this consent must come from a guardian.",
    ),
}
CURRENT_VERSION = "2026-11-v1"


def consent_text(version: str = CURRENT_VERSION) -> tuple[str, str]:
    return TEXTS[version]


def consent_text_sha256(version: str = CURRENT_VERSION) -> str:
    zh, en = TEXTS[version]
    return hashlib.sha256(f"{zh}\n---\n{en}".encode()).hexdigest()
