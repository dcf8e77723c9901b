"""A starting catalogue: the 12345 hotline's usual classification and a village's service items.

`load_defaults()` is idempotent (by code) and only adds what is missing, so a county can run it once
and then edit everything in the admin. Time-limit rules come with the migrations (every install needs
them); categories and items are a county's own business and come from here or from its own import.
"""

from __future__ import annotations

from django.db import transaction

from catalog import services
from catalog.models import Category, HandlingMode, ItemLevel, ServiceItem, TimeClass

# code, name, time class ("" = inherit), children
TREE: list[tuple[str, str, str, list]] = [
    ("01", "城乡建设", "", [
        ("0101", "市政设施", "", [("010101", "路灯损坏", ""), ("010102", "道路破损", ""), ("010103", "井盖缺失", "")]),
        ("0102", "供水供电", TimeClass.UTILITY,
         [("010201", "停水", ""), ("010202", "停电", ""), ("010203", "水质问题", "")]),
        ("0103", "燃气供暖", TimeClass.UTILITY, [("010301", "燃气泄漏", ""), ("010302", "供暖不热", "")]),
        ("0104", "房屋建设", TimeClass.COMPLEX, [("010401", "违章建设", ""), ("010402", "危房改造", "")]),
    ]),
    ("02", "环境保护", "", [
        ("0201", "人居环境", "", [("020101", "垃圾清运", ""), ("020102", "污水横流", ""), ("020103", "秸秆焚烧", "")]),
        ("0202", "噪声扰民", "", [("020201", "施工噪声", ""), ("020202", "生活噪声", "")]),
    ]),
    ("03", "民生保障", "", [
        ("0301", "社会救助", "", [("030101", "低保申请", ""), ("030102", "临时救助", "")]),
        ("0302", "养老服务", "", [("030201", "高龄津贴", ""), ("030202", "居家养老", "")]),
        ("0303", "残疾人服务", "", [("030301", "残疾证办理", ""), ("030302", "残疾人补贴", "")]),
        ("0304", "医疗卫生", "", [("030401", "医保报销", ""), ("030402", "看病就医", "")]),
    ]),
    ("04", "农业农村", "", [
        ("0401", "农业生产", "", [("040101", "农资农技", ""), ("040102", "灌溉水利", "")]),
        ("0402", "土地承包", TimeClass.COMPLEX, [("040201", "承包纠纷", ""), ("040202", "土地流转", "")]),
    ]),
    ("05", "社会治安", "", [
        ("0501", "矛盾纠纷", TimeClass.COMPLEX, [("050101", "邻里纠纷", ""), ("050102", "家庭纠纷", "")]),
        ("0502", "安全隐患", "", [("050201", "消防隐患", ""), ("050202", "交通隐患", "")]),
    ]),
    ("06", "劳动就业", "", [
        ("0601", "劳动权益", "", [("060101", "拖欠工资", ""), ("060102", "劳动合同", "")]),
        ("0602", "就业创业", "", [("060201", "技能培训", ""), ("060202", "创业贷款", "")]),
    ]),
    ("99", "其他", "", [("9901", "其他事项", "", [("990101", "其他", "")])]),
]  # fmt: skip

# code, name, category code, mode, level, promised working days, materials, form fields
ITEMS: list[tuple[str, str, str, str, str, int, list[str], list[dict]]] = [
    ("S001", "残疾证代办", "030301", HandlingMode.PROXY, ItemLevel.COUNTY, 15,
     ["身份证", "户口簿", "近期一寸照片"],
     [{"name": "disability_kind", "label": "残疾类别", "type": "choice", "required": True,
       "choices": ["视力", "听力", "言语", "肢体", "智力", "精神"]}]),
    ("S002", "高龄津贴申领", "030201", HandlingMode.PROXY, ItemLevel.TOWN, 10, ["身份证", "户口簿", "银行卡"], []),
    ("S003", "低保申请代办", "030101", HandlingMode.PROXY, ItemLevel.TOWN, 20,
     ["身份证", "户口簿", "收入证明"],
     [{"name": "members", "label": "家庭人口", "type": "number", "required": True}]),
    ("S004", "医保报销代办", "030401", HandlingMode.PROXY, ItemLevel.COUNTY, 10, ["身份证", "医保卡", "发票"], []),
    ("S005", "代购药品", "030202", HandlingMode.DIRECT, ItemLevel.VILLAGE, 1, [],
     [{"name": "medicine", "label": "药品名称", "type": "text", "required": True}]),
    ("S006", "陪同就医", "030402", HandlingMode.ASSISTED, ItemLevel.VILLAGE, 2, [],
     [{"name": "date", "label": "就医日期", "type": "date", "required": True}]),
    ("S007", "灵活就业登记", "060201", HandlingMode.ONLINE, ItemLevel.COUNTY, 5, ["身份证"], []),
    ("S008", "农技指导预约", "040101", HandlingMode.DIRECT, ItemLevel.TOWN, 5, [], []),
]  # fmt: skip


@transaction.atomic
def load_defaults() -> tuple[int, int]:
    """Add the default categories and items that are missing; returns (categories, items) added."""
    existing = {c.code: c for c in Category.objects.all()}
    added = 0

    def walk(nodes: list, parent: Category | None) -> None:
        nonlocal added
        for i, entry in enumerate(nodes):
            code, name, time_class = entry[0], entry[1], entry[2]
            children = entry[3] if len(entry) > 3 else []
            cat = existing.get(code)
            if cat is None:
                cat = services.category_create(code=code, name=name, parent=parent, time_class=time_class, sort=i)
                existing[code] = cat
                added += 1
            walk(children, cat)

    walk(TREE, None)
    items_added = 0
    have = set(ServiceItem.objects.values_list("code", flat=True))
    for i, (code, name, cat_code, mode, level, days, materials, fields) in enumerate(ITEMS):
        if code in have:
            continue
        services.service_item_create(
            code=code,
            name=name,
            category=existing[cat_code],
            mode=mode,
            level=level,
            promised_days=days,
            materials=materials,
            form_fields=fields,
            sort=i,
        )
        items_added += 1
    return added, items_added
