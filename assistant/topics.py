"""Topic expansion: what an inspection topic implies, in both languages.

"Scaffolds" on its own retrieves the clauses that say "scaffold"; an inspector also checks the
footing, the planking, the guardrails, the access, the power lines overhead and who inspected it
this shift. This table holds that knowledge for common topics as sub-topics (hazards, equipment,
activities), each with the words that find its clauses in English and in Chinese, and with the
place it takes on a walk round the site (:data:`STAGES`). Topics not in the table fall back to
their own words and to the industry's default entry.

The table is bilingual on purpose: a Chinese checklist can look up the English accident records
through the English words of the same sub-topic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: the order an inspector walks a site in: the site and its signs, the ways in and out, the
#: ground, the structures and equipment, the work being done, hazardous materials, emergency
#: provisions, then the people (competence, PPE) and at the end the office (records, plans).
STAGES: dict[int, tuple[str, str]] = {
    10: ("Site layout and signs", "现场布置与标志"),
    20: ("Access, exits and routes", "通道与出口"),
    30: ("Ground and foundations", "地基与基础"),
    40: ("Structures, equipment and installations", "设施设备"),
    50: ("Work activities", "作业活动"),
    60: ("Hazardous materials and atmospheres", "危险物品与有害气体"),
    70: ("Emergency provisions", "应急与消防"),
    80: ("People: competence and protective equipment", "人员资格与防护"),
    90: ("Management, records and inspections", "管理制度与台账"),
}


@dataclass(frozen=True)
class SubTopic:
    name_en: str
    name_zh: str
    stage: int
    terms_en: tuple[str, ...]
    terms_zh: tuple[str, ...]

    def name(self, language: str) -> str:
        return self.name_zh if language == "zh" else self.name_en

    def terms(self, language: str) -> tuple[str, ...]:
        return self.terms_zh if language == "zh" else self.terms_en


@dataclass(frozen=True)
class TopicEntry:
    key: str
    #: words that select the entry when the topic contains them
    match_en: tuple[str, ...]
    match_zh: tuple[str, ...]
    #: a clause must mention one of these to be about the topic (empty: no such test)
    anchors_en: tuple[str, ...]
    anchors_zh: tuple[str, ...]
    subtopics: tuple[SubTopic, ...] = field(default_factory=tuple)

    def anchors(self, language: str) -> tuple[str, ...]:
        return self.anchors_zh if language == "zh" else self.anchors_en


def _s(name_en: str, name_zh: str, stage: int, en: str, zh: str) -> SubTopic:
    return SubTopic(name_en, name_zh, stage, _split(en), _split(zh))


def _split(words: str) -> tuple[str, ...]:
    return tuple(w.strip() for w in words.split("|") if w.strip())


TOPICS: tuple[TopicEntry, ...] = (
    TopicEntry(
        "scaffolds",
        _split("scaffold"),
        _split("脚手架"),
        _split("scaffold"),
        _split("脚手架|架体"),
        (
            _s(
                "Foundations and stability",
                "基础与稳定",
                30,
                "footing|base plate|mud sill|foundation|tipping|guying|tie|brace|plumb",
                "基础|底座|垫板|连墙件|剪刀撑|稳定",
            ),
            _s(
                "Capacity and design",
                "荷载与设计",
                40,
                "capacity|intended load|designed by a qualified person|load",
                "荷载|承载|设计|专项施工方案|计算",
            ),
            _s(
                "Platforms and planking",
                "作业层与脚手板",
                40,
                "platform|planked|decked|plank|walkway|width",
                "脚手板|作业层|平台|铺设",
            ),
            _s(
                "Access",
                "上下通道",
                20,
                "access|ladder|stair|ramp|climb|crossbrace",
                "通道|爬梯|斜道|上下",
            ),
            _s(
                "Guardrails and fall protection",
                "防护栏杆与防坠落",
                50,
                "guardrail|toprail|midrail|fall protection|personal fall arrest|lifeline|open sides|lower level",
                "防护栏杆|安全网|安全带|高处坠落|临边",
            ),
            _s(
                "Falling object protection",
                "防物体打击",
                50,
                "falling object|toeboard|hardhat|debris|canopy|barricade|falling hand tools",
                "挡脚板|坠落物|物体打击|安全帽|警戒",
            ),
            _s(
                "Power lines",
                "外电防护",
                40,
                "power line|clearance|energized|electrical hazard",
                "外电|架空线路|用电",
            ),
            _s(
                "Use, loading and weather",
                "使用与恶劣天气",
                50,
                "storm|high wind|snow|ice|slippery|loaded in excess|moved|altered",
                "大风|雨雪|恶劣天气|超载",
            ),
            _s(
                "Erection and inspection by a competent person",
                "搭设、拆除与检查验收",
                90,
                "competent person|inspected|inspection|visible defects|erected|dismantled|work shift",
                "检查|验收|搭设|拆除",
            ),
            _s(
                "Training",
                "培训与持证",
                80,
                "trained|training|qualified person|recognize the hazards|retrain",
                "培训|架子工|特种作业|持证",
            ),
        ),
    ),
    TopicEntry(
        "excavations",
        _split("excavat|trench"),
        _split("基坑|沟槽|土方|开挖"),
        _split("excavat|trench"),
        _split("基坑|沟槽|土方|开挖"),
        (
            _s(
                "Underground utilities",
                "地下管线",
                30,
                "underground installations|utility|sewer|telephone|fuel|electric",
                "地下管线|管线",
            ),
            _s(
                "Protective systems",
                "支护与放坡",
                30,
                "protective system|sloping|shoring|shield|cave-in|benching",
                "支护|放坡|坍塌|降水",
            ),
            _s(
                "Access and egress",
                "上下通道",
                20,
                "ladder|ramp|egress|stairway|means of egress",
                "上下通道|爬梯",
            ),
            _s(
                "Spoil, edges and loose rock",
                "堆土与边坡",
                30,
                "spoil|edge|loose rock|surcharge|falling loads",
                "堆土|边坡|堆载",
            ),
            _s(
                "Water and hazardous atmospheres",
                "积水与有害气体",
                60,
                "water accumulation|hazardous atmosphere|oxygen|ventilation|rescue",
                "积水|有毒有害气体|通风",
            ),
            _s(
                "Vehicles and equipment",
                "机械与车辆",
                40,
                "vehicular traffic|mobile equipment|warning vest|stop logs",
                "机械|车辆",
            ),
            _s(
                "Inspections",
                "检查",
                90,
                "daily inspection|competent person|rainstorm|inspection",
                "检查|监测",
            ),
        ),
    ),
    TopicEntry(
        "mine_gas_ventilation",
        _split("ventilation|methane|gassy|underground|tunnel|mine gas|air monitoring"),
        _split("瓦斯|通风|矿井|井下|煤矿"),
        _split("ventilation|air|gas|methane|underground|atmosphere|explosive limit"),
        _split("瓦斯|通风|矿井|井下|煤矿|突出"),
        (
            _s(
                "Ventilation system",
                "通风系统",
                40,
                "ventilation|fresh air|air flow|mechanical ventilation|fan|cubic feet",
                "通风系统|独立通风|风量|通风机|局部通风|风流",
            ),
            _s(
                "Gas monitoring and drainage",
                "瓦斯监测与抽采",
                60,
                "air monitoring|methane|flammable gas|lower explosive limit|carbon monoxide|hydrogen sulfide|oxygen|tested",
                "瓦斯检查|瓦斯超限|抽采|抽放|监控|瓦斯等级|监测",
            ),
            _s(
                "Gassy operations",
                "瓦斯矿井与突出防治",
                60,
                "gassy|potentially gassy|acceptable equipment|diesel|flame",
                "突出|防突|高瓦斯|瓦斯突出",
            ),
            _s(
                "Blasting and ignition sources",
                "爆破与火源",
                50,
                "blasting|explosives|ignition|smoking|welding|hot work",
                "爆破|炸药|电雷管|烟草|点火|明火|防爆",
            ),
            _s(
                "Monitoring, communication and alarms",
                "安全监控与通讯",
                40,
                "communication|alarm|monitoring system",
                "安全监控系统|监控与通讯|报警|通讯",
            ),
            _s(
                "Access, check-in and emergencies",
                "出入井与应急",
                70,
                "check-in|egress|emergency|rescue|self-rescuer|lighting|evacuat",
                "安全出口|应急|救护|撤出|避险",
            ),
            _s(
                "Ground support",
                "顶板与支护",
                30,
                "ground support|roof|ribs|face|scaling|loose",
                "顶板|支护|冒顶",
            ),
            _s(
                "Competence and instruction",
                "机构、人员与培训",
                80,
                "instructed|training|competent person|qualified",
                "专门防治机构|副总工程师|瓦斯检查工|特种作业|培训",
            ),
            _s(
                "Records and major hazards",
                "台账与重大事故隐患",
                90,
                "record|recordkeeping|classified",
                "重大事故隐患|记录|停止",
            ),
        ),
    ),
    TopicEntry(
        "chemicals",
        _split("chemical|process safety|psm|hazmat|hazardous material"),
        _split("危险化学品|化学品|化工|危化品|危险物品"),
        _split("chemical|toxic|flammable|vapor|fume|acid|process safety"),
        _split("危险化学品|化学品|危险物品|剧毒|易制爆"),
        (
            _s(
                "Siting and separation",
                "选址与安全距离",
                10,
                "separation|distance|siting|location",
                "安全距离|选址|员工宿舍|居住|同一座建筑物",
            ),
            _s(
                "Storage places and signs",
                "储存场所与标志",
                10,
                "storage|container|tank|segregat|label|sign",
                "专用仓库|储存场所|储存方式|单独存放|专人|标志",
            ),
            _s(
                "Safety equipment",
                "安全设施设备",
                40,
                "monitoring|ventilation|alarm|relief|containment|instrument|interlock",
                "监测|监控|通风|防火|防爆|泄压|防静电|防雷|围堤|报警装置|通信",
            ),
            _s(
                "Receipt, issue and records",
                "出入库与台账",
                90,
                "inventory|records|quantity",
                "出入库|登记|核查|双人收发|双人保管|流向",
            ),
            _s(
                "Toxic and explosive precursors",
                "剧毒与易制爆化学品",
                60,
                "toxic|reactive|explosive",
                "剧毒化学品|易制爆|丢失|被盗|治安保卫",
            ),
            _s(
                "Major hazard installations",
                "重大危险源",
                60,
                "highly hazardous chemicals|threshold quantity|catastrophic release",
                "重大危险源|登记建档|检测、评估、监控",
            ),
            _s(
                "Process safety",
                "工艺安全",
                60,
                "process safety information|process hazard analysis|mechanical integrity|management of change|pre-startup",
                "工艺|安全仪表|自动控制|变更|风险辨识|风险分级",
            ),
            _s(
                "Hot work and permits",
                "动火与特殊作业",
                50,
                "hot work|permit",
                "动火|特殊作业|检维修",
            ),
            _s(
                "Operating procedures and training",
                "操作规程与培训",
                80,
                "operating procedures|training|trained|refresher",
                "操作规程|培训|安全管理规章制度",
            ),
            _s("Contractors", "承包商管理", 80, "contractor", "承包|外来"),
            _s(
                "Emergency planning and incidents",
                "应急与事故调查",
                70,
                "emergency action plan|emergency planning|incident investigation|release",
                "应急预案|应急救援|泄漏",
            ),
            _s(
                "Audits and safety assessment",
                "安全评价与审核",
                90,
                "compliance audit|certify|every three years",
                "安全评价|每三年|每3年",
            ),
        ),
    ),
    TopicEntry(
        "cranes",
        _split("crane|derrick|hoist|rigging|lifting"),
        _split("起重|吊装|塔吊|塔式起重机|吊车"),
        _split("crane|derrick|equipment|hoist|load|boom|rigging"),
        _split("起重|吊装|塔吊|吊车|起吊"),
        (
            _s(
                "Ground conditions and set-up",
                "地基与支腿",
                30,
                "ground conditions|outrigger|firm|drained|graded|supporting materials",
                "地基|支腿|场地",
            ),
            _s(
                "Assembly and disassembly",
                "安装与拆卸",
                40,
                "assembly|disassembly|A/D director|blocking|boom sections",
                "安装|拆卸|顶升",
            ),
            _s(
                "Power lines",
                "外电线路",
                40,
                "power line|encroachment|minimum clearance|Table A|energized|spotter",
                "外电|架空线路|安全距离",
            ),
            _s("Wire rope", "钢丝绳", 40, "wire rope|rope", "钢丝绳|吊索|吊具"),
            _s(
                "Safety devices and operational aids",
                "安全装置",
                40,
                "safety device|operational aid|anti-two-block|load moment|boom stop|horn|level indicator",
                "限位|力矩限制器|安全装置|安全保护装置",
            ),
            _s(
                "Operation and load charts",
                "操作与额定载荷",
                50,
                "load chart|rated capacity|manufacturer procedures|operation|operator",
                "额定|超载|操作规程",
            ),
            _s("Signals", "指挥信号", 50, "signal person|hand signal|signals|radio", "信号|指挥"),
            _s(
                "Work area control",
                "作业区域控制",
                20,
                "swing radius|barricade|work area control|clear of the load|suspended load|hoisted load",
                "警戒|作业区域|吊物下方",
            ),
            _s(
                "Hoisting personnel",
                "吊运人员",
                50,
                "personnel platform|hoisting personnel",
                "载人|吊篮",
            ),
            _s(
                "Inspections",
                "检查与检验",
                90,
                "inspection|inspected|shift|monthly|annual|competent person|qualified person",
                "检查|检验|验收",
            ),
            _s(
                "Operator and signal person qualification",
                "司机与信号工资格",
                80,
                "certification|certified|qualification|qualified|training|evaluation",
                "持证|资格|培训|特种作业",
            ),
        ),
    ),
    TopicEntry(
        "special_equipment",
        _split(
            "special equipment|boiler|pressure vessel|elevator|forklift|powered industrial truck"
        ),
        _split("特种设备|锅炉|压力容器|电梯|叉车|场（厂）内专用机动车辆|压力管道"),
        _split("boiler|pressure vessel|elevator|truck|equipment"),
        _split("特种设备"),
        (
            _s(
                "Registration and marks",
                "使用登记与标志",
                10,
                "registration|certificate|marking|posted",
                "使用登记|登记标志|检验标志|显著位置",
            ),
            _s(
                "Lawful equipment and retirement",
                "合格设备与报废",
                40,
                "approved|listed|retired|removed from service",
                "许可生产|检验合格|淘汰|报废",
            ),
            _s(
                "Safety distances and protection",
                "安全距离与防护",
                40,
                "clearance|guard|safety device",
                "安全距离|安全防护措施|安全附件|安全保护装置",
            ),
            _s(
                "Maintenance and self-inspection",
                "维护保养与自行检查",
                40,
                "maintenance|maintained|examined|inspected|repair",
                "维护保养|自行检查|校验|检修",
            ),
            _s(
                "Periodic inspection",
                "定期检验",
                90,
                "periodic inspection|test|certification",
                "定期检验|检验合格有效期|检验机构",
            ),
            _s(
                "Faults and hazards",
                "故障与隐患处理",
                50,
                "defect|malfunction|unsafe|out of service",
                "故障|异常|事故隐患|全面检查",
            ),
            _s(
                "Operators and managers",
                "作业人员与管理人员",
                80,
                "operator|trained|training|certified|evaluation",
                "作业人员|资格|培训|安全管理人员|持证|教育",
            ),
            _s(
                "Records, rules and procedures",
                "档案、制度与规程",
                90,
                "record|written|procedure",
                "安全技术档案|记录|管理制度|操作规程|岗位责任",
            ),
            _s("Emergencies", "应急", 70, "emergency|rescue", "应急|应急预案|演练|救援"),
        ),
    ),
    TopicEntry(
        "fire",
        _split("fire|extinguisher|exit route|egress|evacuation|flammable"),
        _split("消防|火灾|防火|灭火|疏散"),
        _split("fire|extinguish|exit|flammable|alarm|egress"),
        _split("消防|火灾|防火|灭火|疏散|明火|易燃|吸烟|安全出口"),
        (
            _s(
                "Separation of hazardous and living areas",
                "防火分隔与居住场所",
                10,
                "separation|fire resistant|fire wall",
                "居住场所|同一建筑物|防火间距|防火分区|员工宿舍",
            ),
            _s(
                "Exits and evacuation routes",
                "疏散通道与安全出口",
                20,
                "exit route|exit|egress|unobstructed|unlocked|exit sign|lighted",
                "疏散通道|安全出口|消防车通道|畅通|门窗|障碍物",
            ),
            _s(
                "Extinguishers and fire equipment",
                "消防设施与器材",
                40,
                "portable fire extinguisher|extinguisher|hydrant|sprinkler|standpipe",
                "消防设施|器材|消火栓|灭火器|消防产品",
            ),
            _s(
                "Inspection, maintenance and testing",
                "检测与维护",
                40,
                "inspected monthly|annual maintenance|hydrostatic|fully charged|maintained",
                "检验|维修|检测|完好有效|全面检测|维护",
            ),
            _s(
                "Ignition sources and hot work",
                "火源与动火作业",
                50,
                "hot work|open flame|smoking|ignition|welding|cutting",
                "吸烟|明火|动火|用火|用电",
            ),
            _s(
                "Flammable and combustible materials",
                "易燃易爆物品",
                60,
                "flammable|combustible|liquids|gas cylinders",
                "易燃易爆|危险品|可燃|装修材料|防火性能",
            ),
            _s(
                "Alarms and emergency plans",
                "报警与应急预案",
                70,
                "alarm|emergency action plan|fire prevention plan|evacuation",
                "应急疏散预案|灭火和应急疏散预案|演练|报警",
            ),
            _s(
                "Training",
                "消防培训",
                80,
                "training|educational program|familiarize|trained",
                "消防安全培训|岗前|教育|宣传",
            ),
            _s(
                "Responsibility, patrols and records",
                "责任制与巡查",
                90,
                "responsible|housekeeping|written|records|plan",
                "消防安全责任|责任人|防火检查|防火巡查|消防档案|管理人|消防安全制度",
            ),
        ),
    ),
    TopicEntry(
        "construction_site",
        _split("construction site|jobsite|job site|site safety|building construction"),
        _split("施工现场|建设工程|施工安全|建筑施工"),
        _split("construction|jobsite|job site|work area|employer"),
        _split("施工|建设工程|建筑"),
        (
            _s(
                "Site layout, fencing and signs",
                "现场布置、围挡与标志",
                10,
                "sign|barricade|fence|layout|adjacent|underground",
                "安全警示标志|封闭围挡|办公、生活区|作业区|毗邻|地下管线",
            ),
            _s(
                "Openings and access",
                "洞口与通道",
                20,
                "opening|hole|stairway|access|egress",
                "出入通道口|楼梯口|电梯井口|孔洞|洞口",
            ),
            _s(
                "Dangerous works and method statements",
                "危险性较大工程与交底",
                50,
                "excavation|scaffold|demolition|formwork|safety plan",
                "专项施工方案|危险性较大|基坑|模板|脚手架|起重吊装|拆除|安全技术措施|交底",
            ),
            _s(
                "Temporary electricity and fire",
                "临时用电与消防",
                40,
                "temporary wiring|electrical|fire protection|flammable",
                "临时用电|消防安全责任制度|用火|易燃易爆|消防",
            ),
            _s(
                "Machinery and lifting equipment",
                "机械设备与起重机械",
                40,
                "equipment|crane|hoist|machinery|tools",
                "起重机械|机械设备|施工机具|验收|自升式|专人管理",
            ),
            _s(
                "Protective equipment",
                "安全防护用具",
                80,
                "personal protective equipment|hard hat|protective",
                "安全防护用具|安全防护服装|防护用品",
            ),
            _s(
                "Special workers and training",
                "特种作业人员与培训",
                80,
                "training|instruct|qualified|certified",
                "特种作业人员|教育培训|考核|持证|新的岗位",
            ),
            _s(
                "Organisation and responsibility",
                "组织与责任制度",
                90,
                "responsibility|competent person|program|inspections",
                "安全生产责任制度|安全生产管理机构|专职安全生产管理人员|项目负责人|总承包|分包",
            ),
            _s(
                "Insurance and safety funds",
                "保险与安全费用",
                90,
                "insurance",
                "意外伤害保险|工伤保险|安全施工措施所需费用",
            ),
        ),
    ),
    TopicEntry(
        "general_duties",
        _split(
            "general dut|employer dut|general safety|safety program|employer responsibilit|duties of employers"
        ),
        _split("主体责任|安全生产责任|基础管理|安全管理"),
        (),
        (),
        (
            _s("Safety signs", "安全警示标志", 10, "sign|tag|warning", "安全警示标志|警示"),
            _s(
                "Exits, egress and dormitories",
                "出口、疏散通道与宿舍",
                20,
                "exit|egress|means of egress",
                "出口|疏散通道|员工宿舍",
            ),
            _s(
                "Housekeeping and workplace condition",
                "作业场所环境",
                30,
                "housekeeping|clean|orderly|debris|illumination|recognized hazards",
                "作业场所|生产经营场所",
            ),
            _s(
                "Equipment maintenance",
                "安全设备维护",
                40,
                "equipment|machinery|maintained|defective",
                "安全设备|维护|保养|定期检测|淘汰|监控|报警",
            ),
            _s(
                "Hazardous work",
                "危险作业",
                50,
                "hazardous|hot work|dangerous",
                "爆破|吊装|动火|临时用电|危险作业|现场安全管理",
            ),
            _s(
                "Risk control and hazard elimination",
                "风险管控与隐患排查",
                50,
                "hazard|inspections|frequent and regular|hazard assessment",
                "安全风险分级管控|隐患排查治理|事故隐患|重大危险源",
            ),
            _s(
                "First aid and emergencies",
                "应急救援",
                70,
                "first aid|medical|emergency action plan|emergency",
                "应急救援预案|应急|救援",
            ),
            _s(
                "Protective equipment",
                "劳动防护用品",
                80,
                "personal protective equipment|protective equipment",
                "劳动防护用品",
            ),
            _s(
                "Training and special workers",
                "教育培训与特种作业",
                80,
                "training|instruct|recognition and avoidance|trained",
                "教育和培训|培训|特种作业人员|安全生产知识",
            ),
            _s(
                "Contractors and shared workplaces",
                "发包出租与交叉作业",
                80,
                "contractor|multi-employer",
                "发包|出租|承包单位|安全生产管理协议|同一作业区域",
            ),
            _s(
                "Responsibility and organisation",
                "责任制与管理机构",
                90,
                "general duty|comply with|responsibility|program",
                "全员安全生产责任制|责任制|安全生产管理机构|专职安全生产管理人员|主要负责人|安全生产管理人员",
            ),
            _s(
                "Records, reporting and insurance",
                "记录、报告与保险",
                90,
                "record|log|report|fatality|eight (8) hours",
                "工伤保险|安全生产责任保险|如实记录|报告|档案",
            ),
        ),
    ),
    TopicEntry(
        "fall_protection",
        _split("fall protection|work at height|falls|guardrail|roof"),
        _split("高处作业|坠落|临边|洞口|登高"),
        _split("fall|guardrail|height|lower level|hole|edge"),
        _split("高处|坠落|临边|洞口|安全带|安全网"),
        (
            _s(
                "Unprotected sides, edges and holes",
                "临边与洞口",
                20,
                "unprotected side|edge|hole|opening|skylight|cover",
                "临边|洞口|盖板",
            ),
            _s(
                "Guardrails, nets and arrest systems",
                "防护栏杆、安全网与安全带",
                40,
                "guardrail|safety net|personal fall arrest|anchorage|lanyard|harness",
                "防护栏杆|安全网|安全带|挂点",
            ),
            _s(
                "Ladders and stairways", "梯子与楼梯", 20, "ladder|stairway|stair", "梯子|爬梯|楼梯"
            ),
            _s(
                "Falling objects",
                "防坠物",
                50,
                "falling object|toeboard|canopy|hardhat",
                "坠物|挡脚板|安全帽",
            ),
            _s(
                "Training and rescue",
                "培训与救援",
                80,
                "training|trained|rescue|competent person",
                "培训|救援|特种作业",
            ),
        ),
    ),
    TopicEntry(
        "confined_spaces",
        _split("confined space|permit space|permit-required"),
        _split("有限空间|受限空间|密闭空间"),
        _split("space|entrant|entry"),
        _split("有限空间|受限空间|密闭空间"),
        (
            _s(
                "Identification and signs",
                "辨识与标志",
                10,
                "identify|evaluate|danger sign|posting",
                "辨识|标志|警示",
            ),
            _s(
                "Atmospheric testing and ventilation",
                "气体检测与通风",
                60,
                "test|atmosphere|oxygen|ventilat|monitor",
                "检测|通风|氧含量|有毒",
            ),
            _s(
                "Entry permits and attendants",
                "作业审批与监护",
                50,
                "permit|attendant|entry supervisor|entrant",
                "审批|监护|作业票",
            ),
            _s("Rescue and emergency", "救援与应急", 70, "rescue|retrieval|emergency", "救援|应急"),
            _s(
                "Training and program",
                "培训与制度",
                80,
                "training|program|trained",
                "培训|制度|方案",
            ),
        ),
    ),
    TopicEntry(
        "hazardous_energy",
        _split("lockout|tagout|hazardous energy|machine guard|electrical"),
        _split("能量隔离|上锁挂牌|机械防护|用电|电气"),
        _split("energy|lockout|tagout|machine|electric|guard"),
        _split("电|机械|能量|防护"),
        (
            _s(
                "Guards and isolation",
                "防护与隔离",
                40,
                "guard|isolat|disconnect|lockout device|tagout device",
                "防护装置|隔离|断电",
            ),
            _s(
                "Energy control procedures",
                "能量控制程序",
                50,
                "energy control procedure|lockout|tagout|stored energy|verify",
                "上锁|挂牌|程序",
            ),
            _s(
                "Electrical equipment and wiring",
                "电气设备与线路",
                40,
                "wiring|grounding|ground-fault|live parts|circuit",
                "接地|漏电保护|线路|配电",
            ),
            _s(
                "Periodic inspection and training",
                "检查与培训",
                90,
                "periodic inspection|training|authorized employee",
                "检查|培训|持证",
            ),
        ),
    ),
)

#: the entry used for an industry when the topic matches nothing in the table
INDUSTRY_DEFAULT = {
    "construction": "construction_site",
    "mining": "mine_gas_ventilation",
    "coal": "mine_gas_ventilation",
    "chemical": "chemicals",
    "hazmat": "chemicals",
    "special_equipment": "special_equipment",
    "fire": "fire",
    "general": "general_duties",
}

#: common spellings of the industries in the corpus manifest
INDUSTRY_ALIASES = {
    "chemicals": "chemical",
    "chemical industry": "chemical",
    "化工": "chemical",
    "危险化学品": "chemical",
    "special equipment": "special_equipment",
    "special-equipment": "special_equipment",
    "特种设备": "special_equipment",
    "mine": "mining",
    "mines": "mining",
    "矿山": "mining",
    "煤矿": "mining",
    "coal": "mining",
    "建筑": "construction",
    "建筑施工": "construction",
    "建设工程": "construction",
    "消防": "fire",
    "fire safety": "fire",
    "general duties": "general",
    "通用": "general",
    "综合": "general",
    "manufacturing": "manufacturing",
    "electric": "electrical",
    "电力": "electrical",
}


def normalise_industry(industry: str) -> str:
    key = industry.strip().lower().replace("-", " ")
    return INDUSTRY_ALIASES.get(key, key.replace(" ", "_"))


def _contains(text: str, word: str) -> bool:
    return word.lower() in text.lower()


def find_entries(topic: str, industry: str = "") -> list[TopicEntry]:
    """Entries whose words occur in the topic; else the industry's default entry."""
    found = [e for e in TOPICS if any(_contains(topic, w) for w in (*e.match_en, *e.match_zh))]
    if not found:
        default = INDUSTRY_DEFAULT.get(normalise_industry(industry)) if industry else None
        found = [e for e in TOPICS if e.key == default]
    return found


_EN_STOP = {
    "and", "or", "of", "the", "a", "an", "for", "in", "on", "to", "with", "safety", "inspection",
    "checklist", "check", "management", "requirements", "general", "highly", "hazardous",
    "protection", "prevention", "control", "work", "site",
}  # fmt: skip
_ZH_STOP = ("安全", "检查", "管理", "排查", "清单", "要求", "使用", "生产", "单位", "防治")


def topic_words(topic: str, language: str) -> tuple[str, ...]:
    """The topic's own content words: Chinese segmented as search segments it, English words
    with light plural stripping; generic words ("safety", "安全", "检查") left out."""
    if language == "zh" or re.search(r"[\u4e00-\u9fff]", topic):
        from ingest.lexical import tokenize

        words = [w for w in tokenize(topic, for_query=True) if len(w) >= 2 and w not in _ZH_STOP]
        return tuple(dict.fromkeys(words))
    words = [w.lower() for w in re.findall(r"[A-Za-z][A-Za-z\-/]+", topic)]
    out = []
    for w in words:
        if w in _EN_STOP or len(w) < 3:
            continue
        if w.endswith("ies") and len(w) > 5:
            w = w[:-3] + "y"
        elif w.endswith("s") and not w.endswith("ss") and len(w) > 4:
            w = w[:-1]
        out.append(w)
    return tuple(dict.fromkeys(out))
