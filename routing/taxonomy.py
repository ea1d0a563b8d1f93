"""The intents the classifier knows and what the domains are called, in Vietnamese and English.

Pure data: the configuration validates against these intents, routing reads them, and the
business's acknowledgement, the officers' notices and the reports print the domain names.
"""
from __future__ import annotations

DOMAIN_INTENTS = (
    "dang_ky_kinh_doanh", "dau_tu", "dat_dai", "moi_truong", "nong_lam_thuy_san", "xay_dung",
    "giao_thong_van_tai", "cong_thuong", "thue", "hai_quan", "lao_dong", "bao_hiem_xa_hoi",
    "y_te", "van_hoa_du_lich", "khoa_hoc_cong_nghe", "an_ninh_pccc", "phan_anh_can_bo",
)
CONVERSATION_INTENTS = ("chao_hoi", "cam_on", "tra_cuu", "ngoai_pham_vi")
COMPLAINT_INTENT = "phan_anh_can_bo"  # about how an officer or unit handled a procedure (routing rule 2)

DOMAIN_NAMES_VI = {
    "dang_ky_kinh_doanh": "Đăng ký kinh doanh", "dau_tu": "Đầu tư", "dat_dai": "Đất đai",
    "moi_truong": "Môi trường, tài nguyên nước, khoáng sản", "nong_lam_thuy_san": "Nông, lâm nghiệp, thủy sản",
    "xay_dung": "Xây dựng", "giao_thong_van_tai": "Giao thông vận tải", "cong_thuong": "Công thương",
    "thue": "Thuế", "hai_quan": "Hải quan", "lao_dong": "Lao động", "bao_hiem_xa_hoi": "Bảo hiểm xã hội",
    "y_te": "Y tế, an toàn thực phẩm", "van_hoa_du_lich": "Văn hóa, thể thao, du lịch",
    "khoa_hoc_cong_nghe": "Khoa học, công nghệ, chuyển đổi số", "an_ninh_pccc": "An ninh trật tự, PCCC",
    "phan_anh_can_bo": "Phản ánh về cán bộ, cách giải quyết thủ tục",
}
DOMAIN_NAMES_EN = {
    "dang_ky_kinh_doanh": "Business registration", "dau_tu": "Investment", "dat_dai": "Land",
    "moi_truong": "Environment, water and minerals", "nong_lam_thuy_san": "Agriculture, forestry and fisheries",
    "xay_dung": "Construction", "giao_thong_van_tai": "Transport", "cong_thuong": "Industry and trade",
    "thue": "Tax", "hai_quan": "Customs", "lao_dong": "Labour", "bao_hiem_xa_hoi": "Social insurance",
    "y_te": "Health and food safety", "van_hoa_du_lich": "Culture, sports and tourism",
    "khoa_hoc_cong_nghe": "Science, technology and digital services", "an_ninh_pccc": "Security and fire safety",
    "phan_anh_can_bo": "Complaint about how a procedure was handled",
}
# What the conversation intents are called where an inquiry's domain is shown: an unsure
# inquiry keeps the classifier's guess until the standing office corrects it, and a greeting
# with a question in it ("Hello, how do I register a company?") may be guessed as one (a review
# saw "Lĩnh vực: chao_hoi" in triage, on the inquiry's page and in the weekly report).
CONVERSATION_NAMES_VI = {"chao_hoi": "Chào hỏi", "cam_on": "Cảm ơn", "tra_cuu": "Tra cứu phản ánh",
                         "ngoai_pham_vi": "Ngoài phạm vi"}
CONVERSATION_NAMES_EN = {"chao_hoi": "Greeting", "cam_on": "Thanks", "tra_cuu": "Looking up an inquiry",
                         "ngoai_pham_vi": "Out of scope"}
_NAMES = {"vi": {**DOMAIN_NAMES_VI, **CONVERSATION_NAMES_VI}, "en": {**DOMAIN_NAMES_EN, **CONVERSATION_NAMES_EN}}


def domain_name(intent: str, lang: str) -> str:
    """The domain's name in `lang` ("vi" or "en"), a conversation intent's too; an unknown
    intent is shown as it is."""
    return _NAMES[lang].get(intent, intent)
