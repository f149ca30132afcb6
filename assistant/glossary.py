"""A small bilingual glossary of safety terms, for questions asked in the other language.

Dense search (multilingual e5) already crosses languages; BM25 does not. Translating the
question's safety terms with this glossary gives the lexical side a query in the documents'
language, and lets the evidence gate see that "脚手架" in a question is covered by "scaffold"
in a passage. Units translate the key figures of a quoted clause ("98天" → "98 days").
"""

from __future__ import annotations

import re

#: English term → Chinese terms. Lowercase English, singular; multiword terms first in matching.
TERMS: dict[str, tuple[str, ...]] = {
    "fall protection": ("防坠落", "坠落防护", "高处坠落"),
    "fall": ("坠落", "高处坠落", "跌落"),
    "guardrail": ("护栏", "防护栏杆", "栏杆"),
    "scaffold": ("脚手架",),
    "ladder": ("梯子", "直梯", "爬梯"),
    "stairway": ("楼梯",),
    "roof": ("屋面", "屋顶"),
    "skylight": ("天窗",),
    "hole": ("洞口", "孔洞"),
    "edge": ("边沿", "临边"),
    "trench": ("沟槽", "沟渠"),
    "excavation": ("基坑", "开挖", "挖掘"),
    "cave-in": ("坍塌", "塌方"),
    "collapse": ("坍塌", "倒塌"),
    "confined space": ("有限空间", "受限空间"),
    "permit space": ("有限空间",),
    "rescue": ("救援",),
    "oxygen": ("氧气", "氧含量"),
    "gas": ("气体", "瓦斯"),
    "methane": ("瓦斯", "甲烷"),
    "ventilation": ("通风",),
    "crane": ("起重机", "吊车", "汽车吊"),
    "hoist": ("提升机", "起重"),
    "derrick": ("起重机",),
    "power line": ("电线", "高压线", "架空线路"),
    "electrical": ("电气", "用电"),
    "electrocution": ("触电",),
    "lockout": ("上锁", "挂牌"),
    "tagout": ("挂牌",),
    "energy control": ("能量隔离",),
    "forklift": ("叉车",),
    "powered industrial truck": ("叉车", "场内机动车辆"),
    "boiler": ("锅炉",),
    "pressure vessel": ("压力容器",),
    "elevator": ("电梯",),
    "special equipment": ("特种设备",),
    "maintenance": ("维护保养", "维修", "保养"),
    "inspection": ("检查", "检验"),
    "registration": ("登记", "注册"),
    "hazardous chemical": ("危险化学品",),
    "chemical": ("化学品",),
    "explosive": ("爆炸物品", "民用爆炸物品", "炸药"),
    "explosion": ("爆炸",),
    "fire": ("火灾", "消防"),
    "fire extinguisher": ("灭火器",),
    "hot work": ("动火", "动火作业"),
    "welding": ("焊接", "电焊", "焊工"),
    "respirator": ("呼吸器", "呼吸防护"),
    "protective equipment": ("劳动防护用品", "防护用品"),
    "hard hat": ("安全帽",),
    "helmet": ("安全帽",),
    "harness": ("安全带",),
    "safety net": ("安全网",),
    "noise": ("噪声",),
    "dust": ("粉尘",),
    "occupational disease": ("职业病",),
    "training": ("培训", "教育和培训"),
    "certificate": ("证书", "资格证", "操作证"),
    "certification": ("资格", "取得相应资格"),
    "qualified": ("合格", "有资格"),
    "employer": ("生产经营单位", "用人单位", "雇主"),
    "employee": ("从业人员", "职工", "员工", "劳动者"),
    "worker": ("从业人员", "工人", "劳动者"),
    "contractor": ("承包单位", "施工单位"),
    "construction": ("建设工程", "施工", "建筑", "工地"),
    "construction site": ("工地", "施工现场"),
    "mine": ("矿山", "煤矿"),
    "coal mine": ("煤矿",),
    "mining": ("矿山", "采矿"),
    "accident": ("事故", "生产安全事故"),
    "fatality": ("死亡",),
    "death": ("死亡",),
    "injury": ("受伤", "伤害", "工伤"),
    "work injury": ("工伤",),
    "report": ("报告", "上报"),
    "record": ("记录",),
    "investigation": ("调查",),
    "penalty": ("罚款", "处罚"),
    "fine": ("罚款",),
    "permit": ("许可证", "许可"),
    "license": ("许可证",),
    "production safety permit": ("安全生产许可证",),
    "valid": ("有效期",),
    "renew": ("延期", "换证"),
    "emergency": ("应急", "紧急"),
    "emergency plan": ("应急预案",),
    "drill": ("演练",),
    "evacuate": ("撤离", "疏散"),
    "hazard": ("隐患", "危险", "危害"),
    "risk": ("风险",),
    "insurance": ("保险",),
    "maternity leave": ("产假",),
    "pregnant": ("孕期", "怀孕"),
    "female worker": ("女职工",),
    "minor": ("未成年工", "未成年人"),
    "overtime": ("加班", "延长工作时间"),
    "working hour": ("工作时间",),
    "major accident": ("重大事故",),
    "serious accident": ("较大事故",),
    "safety officer": ("安全生产管理人员", "安全员"),
    "safety management": ("安全生产管理", "安全管理"),
    "storage": ("储存", "存放"),
    "warehouse": ("仓库",),
    "transport": ("运输",),
    "vehicle": ("车辆",),
    "machine guarding": ("防护装置",),
    "guard": ("防护", "防护装置"),
    "height": ("高度", "高处"),
    "distance": ("距离",),
    "clearance": ("距离", "安全距离"),
}

#: Chinese unit → English, for the key figures of a Chinese clause in an English answer
ZH_UNITS = {
    "日": "days", "天": "days", "个工作日": "working days", "工作日": "working days",
    "小时": "hours", "分钟": "minutes", "个月": "months", "月": "months", "年": "years",
    "周": "weeks", "人": "people", "名": "people", "米": "m", "厘米": "cm", "毫米": "mm",
    "万元": "× 10,000 yuan", "元": "yuan", "倍": "times", "次": "times", "吨": "t",
    "公斤": "kg", "千克": "kg", "%": "%", "度": "degrees",
}  # fmt: skip
#: English unit → Chinese, for the key figures of an English clause in a Chinese answer
EN_UNITS = {
    "feet": "英尺", "foot": "英尺", "ft": "英尺", "inches": "英寸", "inch": "英寸",
    "meters": "米", "meter": "米", "m": "米", "hours": "小时", "hour": "小时",
    "days": "天", "day": "天", "working days": "个工作日", "months": "个月", "month": "个月",
    "years": "年", "year": "年", "minutes": "分钟", "pounds": "磅", "lbs": "磅",
    "percent": "%", "volts": "伏", "kv": "千伏", "degrees": "度", "employees": "名员工",
    "people": "人", "times": "倍",
}  # fmt: skip

_ZH_TO_EN: dict[str, list[str]] = {}
for _en, _zhs in TERMS.items():
    for _zh in _zhs:
        _ZH_TO_EN.setdefault(_zh, []).append(_en)
_EN_KEYS = sorted(TERMS, key=len, reverse=True)
_ZH_KEYS = sorted(_ZH_TO_EN, key=len, reverse=True)


def _en_pattern(term: str) -> re.Pattern[str]:
    return re.compile(r"\b" + re.escape(term).replace(r"\ ", r"[\s-]+") + r"(?:s|es)?\b", re.I)


_EN_PATTERNS = {t: _en_pattern(t) for t in _EN_KEYS}


def to_chinese_terms(text: str) -> list[str]:
    """Chinese equivalents of the English safety terms in ``text`` (longest terms first)."""
    out: list[str] = []
    rest = text
    for term in _EN_KEYS:
        pattern = _EN_PATTERNS[term]
        if pattern.search(rest):
            out += [z for z in TERMS[term] if z not in out]
            rest = pattern.sub(" ", rest)
    return out


def to_english_terms(text: str) -> list[str]:
    """English equivalents of the Chinese safety terms in ``text`` (longest terms first)."""
    out: list[str] = []
    rest = text
    for term in _ZH_KEYS:
        if term in rest:
            out += [e for e in _ZH_TO_EN[term] if e not in out]
            rest = rest.replace(term, " ")
    return out


def translate_terms(text: str, to_lang: str) -> list[str]:
    return to_chinese_terms(text) if to_lang == "zh" else to_english_terms(text)
