"""Vocabularies for the demo county: surnames, given names, place names, phone prefixes.

Everything here is invented from common patterns (张家畈村, 五脑山村, 桂花园小区); no list is copied from
a real register. Picking takes a `random.Random` so the generator stays deterministic by seed.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Callable, Sequence

# --- surnames ---------------------------------------------------------------------------------
# Approximate shares (per mille) of the most common surnames in mainland China; the long tail is
# cut off, which only makes the demo look slightly more uniform than life.
_SURNAME_SHARES: tuple[tuple[str, float], ...] = (
    ("王", 71.2), ("李", 70.0), ("张", 67.4), ("刘", 51.0), ("陈", 46.1), ("杨", 32.2), ("黄", 24.5),
    ("赵", 21.9), ("吴", 20.8), ("周", 20.0), ("徐", 14.5), ("孙", 13.8), ("马", 12.9), ("朱", 12.8),
    ("胡", 11.6), ("郭", 11.5), ("何", 10.6), ("高", 10.0), ("林", 9.7), ("罗", 9.5), ("郑", 9.3),
    ("梁", 8.6), ("谢", 7.6), ("宋", 6.8), ("唐", 6.4), ("许", 6.3), ("韩", 6.1), ("冯", 6.0),
    ("邓", 5.9), ("曹", 5.7), ("彭", 5.5), ("曾", 5.4), ("肖", 5.3), ("田", 5.1), ("董", 5.1),
    ("袁", 5.0), ("潘", 4.9), ("于", 4.8), ("蒋", 4.8), ("蔡", 4.7), ("余", 4.6), ("杜", 4.5),
    ("叶", 4.4), ("程", 4.3), ("苏", 4.2), ("魏", 4.1), ("吕", 4.0), ("丁", 3.9), ("任", 3.8),
    ("沈", 3.7), ("姚", 3.6), ("卢", 3.5), ("姜", 3.4), ("崔", 3.3), ("钟", 3.2), ("谭", 3.1),
    ("陆", 3.0), ("汪", 3.0), ("范", 2.9), ("金", 2.8), ("石", 2.8), ("廖", 2.7), ("贾", 2.6),
    ("夏", 2.6), ("韦", 2.5), ("付", 2.5), ("方", 2.4), ("白", 2.3), ("邹", 2.3), ("孟", 2.2),
    ("熊", 2.2), ("秦", 2.1), ("邱", 2.1), ("江", 2.0), ("尹", 2.0), ("薛", 1.9), ("闫", 1.9),
    ("段", 1.8), ("雷", 1.8), ("侯", 1.7), ("龙", 1.7), ("史", 1.6), ("陶", 1.6), ("黎", 1.5),
    ("贺", 1.5), ("顾", 1.4), ("毛", 1.4), ("郝", 1.3), ("龚", 1.3), ("邵", 1.3), ("万", 1.2),
    ("钱", 1.2), ("严", 1.2), ("覃", 1.1), ("武", 1.1), ("戴", 1.1), ("莫", 1.0), ("孔", 1.0),
    ("向", 1.0), ("汤", 1.0), ("舒", 0.9), ("童", 0.9), ("柯", 0.8), ("鲍", 0.8), ("詹", 0.7),
)  # fmt: skip
SURNAMES: tuple[str, ...] = tuple(s for s, _ in _SURNAME_SHARES)
_SURNAME_CUM: tuple[float, ...] = tuple(itertools.accumulate(w for _, w in _SURNAME_SHARES))


def surname(rng: random.Random) -> str:
    """A surname drawn by frequency (bisect on cumulative shares: this runs ~800,000 times a county)."""
    return SURNAMES[bisect.bisect_right(_SURNAME_CUM, rng.random() * _SURNAME_CUM[-1])]


# --- given names, by the era a person was born in and by gender --------------------------------
# Naming fashions changed a lot: 建国 and 桂英 are grandparents, 子轩 and 梓涵 are grandchildren.
_MALE_OLD = (
    "建国", "国庆", "建华", "国强", "志强", "德明", "德华", "文明", "长生", "福生", "金生", "水生",
    "春生", "光明", "卫东", "卫国", "红兵", "解放", "胜利", "秋生", "家贵", "家富", "正华", "明山",
    "宝山", "振华", "兴旺", "有才", "志明", "国平", "忠", "军", "平", "华", "明", "林", "清", "海",
    "山", "贵", "富", "荣", "发", "才",
)  # fmt: skip
_MALE_MID = (
    "伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "超", "明", "刚", "平", "辉", "鹏", "华", "飞",
    "鑫", "波", "宁", "建军", "海涛", "俊杰", "志刚", "晓东", "小龙", "立新", "红军", "剑", "峰",
    "建平", "文斌", "永刚", "海波", "志勇", "德胜", "国华", "建伟", "春雷", "俊", "亮", "浩",
)  # fmt: skip
_MALE_YOUNG = (
    "浩然", "子轩", "宇轩", "浩宇", "梓豪", "俊熙", "博文", "一鸣", "天佑", "宇航", "睿", "泽",
    "皓轩", "明轩", "铭泽", "晨", "轩", "浩", "宇", "俊", "昊", "子墨", "奕辰", "思远", "家豪",
    "文博", "梓睿", "子豪", "锦程", "嘉乐", "沐阳", "承泽", "煜", "宸", "瑞", "恒",
)  # fmt: skip
_FEMALE_OLD = (
    "桂英", "秀英", "玉兰", "桂兰", "秀兰", "凤英", "玉珍", "淑珍", "春花", "翠花", "金莲", "秀珍",
    "桂芳", "冬梅", "玉梅", "兰英", "菊花", "秀云", "素珍", "爱华", "秀芳", "月英", "腊梅", "红英",
    "桂香", "金凤", "春兰", "英", "兰", "珍", "芳", "梅", "华", "荣", "莲", "娥",
)  # fmt: skip
_FEMALE_MID = (
    "丽", "芳", "敏", "静", "燕", "娟", "艳", "霞", "红", "玲", "丽娟", "秀梅", "海燕", "晓红",
    "红梅", "丽华", "春燕", "雪梅", "小芳", "慧", "婷", "琴", "萍", "莉", "艳红", "美玲", "小燕",
    "晓燕", "翠萍", "丽萍", "秀娟", "文静", "金花", "凤", "俊英",
)  # fmt: skip
_FEMALE_YOUNG = (
    "欣怡", "梓涵", "诗涵", "雨涵", "子涵", "可馨", "思琪", "佳怡", "梦瑶", "雨欣", "紫涵", "一诺",
    "语桐", "若汐", "悦", "婷", "琪", "萱", "瑶", "雪", "佳琪", "欣悦", "思雨", "梓萱", "芷若",
    "依诺", "诗琪", "雨桐", "晨曦", "静怡", "安琪", "梦琪", "书瑶", "沐晴",
)  # fmt: skip


def given_name(rng: random.Random, *, male: bool, birth_year: int) -> str:
    pool: tuple[str, ...]
    if birth_year < 1966:
        pool = _MALE_OLD if male else _FEMALE_OLD
    elif birth_year < 1991:
        pool = _MALE_MID if male else _FEMALE_MID
    else:
        pool = _MALE_YOUNG if male else _FEMALE_YOUNG
    return pool[int(rng.random() * len(pool))]


# --- numerals ---------------------------------------------------------------------------------
_DIGITS = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 20 → 二十, 35 → 三十五 (enough for villager-group numbers)."""
    if not 0 < n < 100:
        raise ValueError(n)
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else _DIGITS[tens] + "十")
    return head + (_DIGITS[ones] if ones else "")


# --- places -----------------------------------------------------------------------------------
TOWN_BASES = (
    "白果", "三河口", "桃林", "黄土岗", "福田河", "盐田河", "顺河", "木子店", "夫子河", "乘马岗",
    "中驿", "铁门岗", "黄市", "闵集", "南湖", "东港", "西岭", "北峰", "长岭", "石桥", "凤凰",
    "金桥", "柳林", "青山", "红石", "高桥", "杨柳", "马鞍山", "五里墩", "双河", "狮子山", "古城",
    "新店", "八里", "七里坪", "枫林", "松林", "茶山", "竹林", "平湖", "沙河", "白沙", "仙居",
    "麻溪", "云台", "横山", "陶河", "洗马", "界岭", "龙王", "望城", "大河", "花桥", "土门",
)  # fmt: skip
SUBDISTRICT_BASES = ("城关", "东城", "西城", "南门", "北门", "文昌", "滨河", "新城", "龙池", "鼓楼", "书院", "凤城")

_CLAN_FEATURES = "畈湾冲岗垸铺河寨坳嘴墩坪桥山店湖塆咀"
_NUMBERED = (
    "三河口", "五脑山", "七里桥", "八里畈", "九龙山", "十里铺", "双河口", "四方岗", "三岔河",
    "五眼塘", "九棵松", "七星岗", "两路口", "十八湾", "六里冲", "百果园",
)  # fmt: skip
_DESC_FIRST = "桃杏柳松竹枫梅桂石龙凤金银白红青黄新东西南北大小上下高长"
_DESC_SECOND = "园林山河桥岗湾冲店坪塘畈井岭庙"


def village_name(rng: random.Random) -> str:
    """张家畈村, 五脑山村, 桃园村: clan-named places are the commonest in Hubei's hills."""
    r = rng.random()
    if r < 0.45:
        return f"{surname(rng)}家{rng.choice(_CLAN_FEATURES)}村"
    if r < 0.6:
        return f"{rng.choice(_NUMBERED)}村"
    return f"{rng.choice(_DESC_FIRST)}{rng.choice(_DESC_SECOND)}村"


_COMMUNITY_BASES = (
    "青年路", "文化街", "东门", "西门", "南门", "北门", "桂花", "新华", "人民路", "建设路", "解放路",
    "中山路", "滨河", "龙池", "鼓楼", "五一", "红旗", "光明", "幸福", "和平", "书院", "学府", "花园",
    "金桥", "站前", "体育路", "工业园", "商城", "东湖", "西湖", "翠竹", "民主街",
)  # fmt: skip


def community_name(rng: random.Random) -> str:
    return f"{rng.choice(_COMMUNITY_BASES)}社区"


_ESTATE_FIRST = (
    "桂花", "阳光", "锦绣", "滨江", "翠竹", "金色", "幸福", "和谐", "书香", "御景", "东方", "盛世",
    "丽景", "紫荆", "碧水", "龙湖", "香樟", "银杏", "凤凰", "天成", "博雅", "世纪", "万象", "金地",
)  # fmt: skip
_ESTATE_SECOND = ("园", "花园", "苑", "家园", "华庭", "雅居", "新城", "名都", "佳苑", "公馆", "嘉园", "豪庭")


def estate_name(rng: random.Random) -> str:
    """桂花园小区, 锦绣华庭小区: a residential estate, the grid of an urban community."""
    return f"{rng.choice(_ESTATE_FIRST)}{rng.choice(_ESTATE_SECOND)}小区"


_WAN_PREFIXES = ("大屋", "上屋", "下屋", "老屋", "新屋", "塘埂", "竹林", "松树", "枫树", "石板", "对面", "后山")


def clan_group_name(rng: random.Random, clan: str) -> str:
    """A villager group named after its hamlet (湾): mostly the clan living there, sometimes the place."""
    if rng.random() < 0.8:
        return f"{clan}家湾组"
    return f"{rng.choice(_WAN_PREFIXES)}湾组"


def ordinal_group_name(n: int) -> str:
    return f"{chinese_number(n)}组"


def unique(rng: random.Random, make: Callable[[random.Random], str], taken: set[str], *, tries: int = 30) -> str:
    """A fresh name from `make(rng)`; after `tries` clashes a numeral suffix settles it (二, 三, …)."""
    for _ in range(tries):
        name = make(rng)
        if name not in taken:
            taken.add(name)
            return name
    base = make(rng)
    for n in itertools.count(2):
        # Insert the numeral before the suffix character(s): 桃园二村, 桂花园二小区.
        cut = -2 if base.endswith(("社区", "小区", "湾组")) else -1
        name = f"{base[:cut]}{chinese_number(n)}{base[cut:]}"
        if name not in taken:
            taken.add(name)
            return name
    raise AssertionError("unreachable")


# --- phones -----------------------------------------------------------------------------------
# Mobile prefixes of the three carriers (all match core.validators' 1[3-9]x).
MOBILE_PREFIXES = (
    "134", "135", "136", "137", "138", "139", "150", "151", "152", "157", "158", "159", "182", "183",
    "187", "188", "130", "131", "132", "155", "156", "185", "186", "133", "153", "180", "181", "189",
    "177", "199", "166", "173", "191", "195",
)  # fmt: skip


def mobile(rng: random.Random) -> str:
    return f"{MOBILE_PREFIXES[int(rng.random() * len(MOBILE_PREFIXES))]}{rng.randrange(10**8):08d}"


def landline(rng: random.Random, area_code: str) -> str:
    """A county office number: area code and seven digits starting with 2 (e.g. 0713-2xxxxxx)."""
    return f"{area_code}-2{rng.randrange(10**6):06d}"


def pick_some(rng: random.Random, pool: Sequence[str], low: int, high: int) -> list[str]:
    """Between `low` and `high` items of `pool`, kept in the pool's order (reads better on a sign)."""
    chosen = set(rng.sample(range(len(pool)), rng.randint(low, min(high, len(pool)))))
    return [item for i, item in enumerate(pool) if i in chosen]


# --- organisations ----------------------------------------------------------------------------
COUNTY_DEPARTMENTS = (
    "民政局", "人力资源和社会保障局", "卫生健康局", "住房和城乡建设局", "公安局", "市场监督管理局",
    "自然资源和规划局", "生态环境局", "交通运输局", "水利和湖泊局", "农业农村局", "教育局",
    "城市管理执法局", "应急管理局", "医疗保障局", "退役军人事务局", "司法局", "财政局",
    "文化和旅游局", "乡村振兴局", "信访局", "数据局", "残疾人联合会", "供电公司", "自来水公司",
)  # fmt: skip

PARTY_CENTER_SERVICES = (
    "社保办理", "医保缴费", "代办证件", "法律咨询", "就业登记", "老年人优待证", "残疾人证办理",
    "户籍咨询", "便民缴费", "志愿服务",
)  # fmt: skip
RED_STATION_SERVICES = ("休息饮水", "手机充电", "应急药箱", "雨具借用", "爱心助餐", "政策咨询", "党员志愿服务")
GOV_HUT_SERVICES = ("社保认证", "医保缴费", "代办证件", "不动产登记咨询", "便民缴费", "政策咨询", "农技咨询")
