#!/usr/bin/env python
"""Build the labelled pairs for triage.similar: "is this the same problem?" — and synthetic docs to time it on.

    .venv/bin/python bench/similar_pairs.py [--seed 7] [--pairs-per-kind 44] [--out triage/tests/data/pairs.csv]

Everything here is written by us, not taken from real appeals: a made-up county (towns, villages and urban
communities, their grids, coordinates and landmarks) and, for 26 kinds of matter, hand-written ways residents
tell that problem (4–10 each: short, detailed, indirect — "it is pitch dark at the bridge" for a street light —,
dialect words such as 马葫芦盖 for a manhole cover or 没得水 for a water cut). A report is one of those told
at a spot (each landmark has several descriptions: 村口 / 进村的路口 / 村口大槐树那儿), with, at random,
a greeting and a closing line, unrelated sentences (some about other matters), the 12345 hotline's transfer
boilerplate, typing errors of the pinyin-input kind (拉圾, 暖器, 路登), spoken-input style without punctuation,
or a long story around it. Two reports of a positive pair never use the same way of telling.

The pair kinds (column `kind`), each `--pairs-per-kind` times:
  positives (one problem, two households):
    pos_same_grid        both reporters live in the spot's grid
    pos_other_grid       reporters in different grids of the village
    pos_landmark         the spot described by different landmarks
    pos_long             one short report, one long one full of other things
    pos_typo_dialect     typing errors and dialect words on both sides
    pos_hotline          one is a 12345 hotline transfer with only the village's path, no coordinates
    pos_indirect         one tells only the consequence, not the named problem
    pos_area_wide        a village-wide matter (停水, 停电, 秸秆焚烧, the site's night work) told from two spots
  negatives:
    neg_same_cat_same_village   same category, same village (often the same spot), a different problem
                                (路灯不亮 vs 井盖丢失, 停水 vs 水发黄)
    neg_same_problem_other_spot same problem, same village, a different spot (3栋 vs 8栋's elevator);
                                never a village-wide matter
    neg_other_village           same problem in another village of the same town (not a village-wide
                                matter either: a town's water plant may cut several villages at once)
    neg_other_town              same problem in another town, 10–30 km away
    neg_months_apart            same problem at the same spot, 60–150 days apart
    neg_same_spot_other_matter  same spot, an unrelated matter
    neg_unrelated               anything else
"""

from __future__ import annotations

import argparse
import csv
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "triage" / "tests" / "data" / "pairs.csv"
HEADER = [
    "a_text", "a_place", "a_lat", "a_lng", "a_days_ago",
    "b_text", "b_place", "b_lat", "b_lng", "b_days_ago", "same", "kind",
    "a_category", "b_category",  # after the agreed columns: what a classified order would carry
]  # fmt: skip

# Landmarks of a village and of an urban community; each inner list: ways people name the same spot.
RURAL_SPOTS: list[list[str]] = [
    ["村口", "进村的路口", "村口大槐树那儿", "村头牌坊旁边"],
    ["小学门口", "学校大门前面", "村小那边", "学校门口那段"],
    ["村委会门口", "村部前面", "村委大院外头", "村部那一块"],
    ["东头石桥", "河上那座老桥", "东边过河的桥头", "石拱桥那里"],
    ["文化广场", "村里的广场", "大戏台前面的空地", "健身广场那边"],
    ["老街", "老街上", "老街那条巷子里", "老街中间那段"],
    ["三组", "第三村民小组", "三队那边", "3组"],
    ["七组", "第七村民小组", "七队", "7组那片"],
    ["卫生室旁边", "村卫生室那", "村医诊所边上"],
    ["加油站附近", "加油站往北一点", "中石化加油站那儿"],
    ["水塔旁边", "蓄水池那边", "老水塔下面"],
    ["祠堂前面", "老祠堂那儿", "祠堂门口的空地"],
    ["敬老院门口", "养老院那边", "幸福院门前"],
    ["公交站", "公交车站台", "站牌那里", "候车亭旁边"],
]
URBAN_SPOTS: list[list[str]] = [
    ["3栋2单元", "三号楼二单元", "3号楼2单元", "三栋二单元楼道"],
    ["5栋", "五号楼", "5号楼", "第五栋"],
    ["12栋1单元", "十二栋一单元", "12号楼1单元"],
    ["8栋", "八号楼", "8号楼", "第八栋"],
    ["小区南门", "南大门", "小区正门口", "南门那儿"],
    ["小区北门", "北边那个门", "小区后门"],
    ["地下车库", "负一楼车库", "车库入口", "地库"],
    ["中心花园", "小区花园", "健身器材那边", "花园凉亭旁边"],
    ["幼儿园门口", "小区幼儿园外面", "幼儿园那条路"],
    ["菜鸟驿站旁边", "快递站那里", "驿站门口"],
    ["物业楼", "物业办公室那栋", "物业服务中心"],
    ["沿街商铺", "底商那排", "临街门面"],
]
EMPLOYERS: list[list[str]] = [
    ["东边的砖厂", "砖瓦厂", "村里那个砖厂"],
    ["新城工地", "新城那个楼盘工地", "新城项目部"],
    ["镇上的服装厂", "服装加工厂", "那家制衣厂"],
    ["李老板的养猪场", "村里的养殖场", "那个猪场"],
    ["修村道的工程队", "搞道路硬化的施工队", "修路那个工程队"],
    ["包工头王某", "王老板", "姓王的包工头"],
]
MARKETS: list[list[str]] = [
    ["菜市场", "农贸市场", "菜场"],
    ["集市", "赶集的地方", "街上的集"],
    ["镇上的大超市", "那个大超市", "万家福超市"],
    ["门口的水果店", "门口那家水果摊", "水果店"],
]

DURATIONS = ["三天", "一个多星期", "好几天", "半个月", "两天", "五六天", "快一个月", "一整天", "十来天"]


@dataclass(frozen=True)
class Matter:
    key: str
    group: str  # the category (hard negatives pair matters of one group)
    setting: str  # rural / urban / any
    spots: str  # rural / urban / place (the village's own) / employers / markets
    ways: tuple[str, ...]  # {s}: the spot, {v}: the village, {d}: how long
    indirect: tuple[str, ...] = ()  # the consequence only, not the problem's name


M = Matter
MATTERS: list[Matter] = [
    M("road", "市政", "any", "place", (
        "{s}的水泥路塌了一个大坑，{d}了没人管",
        "{s}那段路坑坑洼洼的，下雨全是泥，电动车都骑不了",
        "{v}{s}路面破损严重，有个坑差不多半米宽",
        "路烂了！{s}",
        "我们{s}这条路被大货车压坏了，到处是裂缝和坑",
        "{s}的道路开裂下沉，请派人修补",
        "反映{s}路面坑洼问题，坑里积了水，小孩上学要绕着走",
        "{s}有个坑好大，车子过去底盘都刮了，{d}了",
        "{s}这段路面稀烂，一下雨就是一个水塘，出门一脚泥",
        "那个{s}的路啊，坏了{d}了，一直没人来补，我们老百姓走路都难",
    ), (
        "{s}昨晚又有人骑摩托车摔了，就是那个大坑的位置，太危险了",
        "{s}每天都有车在那颠一下，轮胎都颠爆了一个",
    )),
    M("streetlight", "市政", "any", "place", (
        "{s}的路灯不亮了，{d}了",
        "{s}路灯坏了，晚上黑漆漆的",
        "{v}{s}那几盏路灯一到晚上就闪，一会亮一会灭",
        "{s}的路灯杆歪了，灯泡也不亮，怕倒下来砸到人",
        "{s}电杆上的灯坏了{d}，麻烦修一下",
        "路灯不亮！！{s}",
        "{s}那边的太阳能路灯全都不亮了，可能是电池坏了",
        "我们这{s}的路灯白天亮晚上反而不亮，是不是定时器坏了",
        "{s}那盏灯{d}没亮过了，过路的人都说看不清路",
    ), (
        "晚上{s}一片漆黑，老人出门都不敢",
        "{s}晚上黑咕隆咚的，我妈昨天在那摔了一跤",
    )),
    M("manhole", "市政", "any", "place", (
        "{s}的井盖不见了，留下一个大洞",
        "{s}下水井盖丢了，晚上很危险，有小孩掉下去怎么办",
        "{s}有个窨井盖被偷了{d}了，只用树枝挡着",
        "{s}马葫芦盖没了，赶紧来弄一下",
        "{v}{s}路中间的井盖破了个口子，车轮子压上去咔咔响",
        "{s}井盖松动，踩上去会翻",
        "井盖缺失，位置在{s}，请尽快补上",
        "{s}的雨水井盖碎了一半，上面放了个破桶做标记",
    ), (
        "{s}那个井没有盖子，黑洞洞的，昨天一只羊掉下去了",
    )),
    M("flooding", "市政", "any", "place", (
        "{s}一下雨就积水，水深到膝盖",
        "{s}涵洞积水严重，车子熄火在里面",
        "下大雨{s}全淹了，水都进到家里了",
        "{s}排水不畅，每次下雨都是一片汪洋",
        "{v}{s}地势低，昨晚暴雨积水半米深，电动车都泡坏了",
        "{s}的下水口堵了，雨水排不出去，路上积了好深的水",
        "{s}内涝，一楼住户家里都进水了",
    ), (
        "这几天下雨{s}又成河了，孩子上学只能蹚水",
    )),
    M("water_cut", "水电", "any", "place", (
        "{s}停水{d}了，也没有通知",
        "{v}{s}没水了，水龙头拧开一滴都没有",
        "我们{s}{d}没有自来水了，做饭都没水",
        "{s}断水了，什么时候来水",
        "{s}一直停水，打了自来水公司电话也没人接",
        "家里水管没水，问了邻居{s}一片都没水",
        "{s}没得水了{d}了，咋个搞嘛",
        "{s}供水中断，几百户人吃水困难",
    ), (
        "{s}老人只能去河里挑水吃，{d}了，太不方便了",
        "{s}这几天洗衣做饭都得去亲戚家拎桶接",
    )),
    M("water_quality", "水电", "any", "place", (
        "{s}的自来水发黄，还有股怪味",
        "{s}水龙头放出来的水浑浊，有沉淀，不敢喝",
        "{v}{s}的自来水漂白粉味道特别重",
        "{s}的水烧开后有白色杂质，怀疑水质有问题",
        "{s}自来水里有小虫子",
        "{s}放出来的水是黄泥汤一样的",
        "最近{s}的水喝着有点苦，有异味",
    ), (
        "{s}好几家人喝了家里的水拉肚子",
    )),
    M("power_cut", "水电", "any", "place", (
        "{s}停电{d}了",
        "{s}突然没电了，冰箱里东西都坏了",
        "{v}{s}经常跳闸停电，一天停好几次",
        "{s}整片停电，也没有提前通知",
        "{s}的变压器好像烧了，冒烟之后就没电了",
        "我们{s}断电了，家里有病人要用制氧机，急！",
        "{s}没电了，啥时候能来电",
        "{s}一直停电，供电所电话打不通",
    ), (
        "{s}家家户户都黑着，手机都快没电充了",
    )),
    M("garbage", "环境", "any", "place", (
        "{s}的垃圾堆了{d}没人清运，臭气熏天",
        "{s}垃圾池满了，垃圾都溢到路上了",
        "{v}{s}垃圾没人拉走，苍蝇蚊子到处飞",
        "{s}的垃圾桶满了好几天了，味道很大",
        "{s}拉圾没人收，夏天太热都发臭了",
        "垃圾车{d}没来了，{s}那堆垃圾越来越多",
        "{s}那个垃圾点脏得不行，一直没清理",
    ), (
        "{s}臭得不行，苍蝇到处飞，路过都要捂鼻子",
    )),
    M("sewage", "环境", "any", "place", (
        "{s}的污水到处流，臭得很",
        "{s}下水道堵了，污水漫到路面上",
        "{s}化粪池满了往外冒，走路都要踮着脚",
        "{s}的阴沟堵死了，黑水流得满地都是",
        "{s}生活污水直接排到路边，味道大",
        "{v}{s}下水管道破了，污水横流",
    ), (
        "{s}地上一滩一滩的黑水，孩子踩得一脚脏",
    )),
    M("straw_burning", "环境", "rural", "place", (
        "{s}有人烧秸秆，烟大得睁不开眼",
        "{s}田里在焚烧秸秆，整个村子都是烟",
        "{v}{s}又在烧稻草了，呛得人咳嗽",
        "{s}那边地里冒大烟，有人烧麦秆",
        "晚上{s}有人偷偷烧秸秆，空气太差了",
        "{s}烧荒，火离房子不远，危险",
    ), (
        "{s}烟雾弥漫，晒的衣服全是烟味",
    )),
    M("construction_noise", "噪声", "any", "place", (
        "{s}的工地晚上十一点还在施工，吵得睡不着",
        "{s}工地半夜打桩，噪音太大",
        "{v}{s}那个工地天天夜里施工，搅拌机响个不停",
        "{s}施工噪音扰民，凌晨还在干活",
        "{s}工地晚上拉渣土车，轰隆隆一整夜",
        "{s}那边施工的动静太大，家里老人心脏不好受不了",
    ), (
        "{s}半夜咣咣响，一晚上没睡着，第二天还要上班",
    )),
    M("square_dance", "噪声", "any", "place", (
        "{s}每天晚上跳广场舞，音响开得巨大声",
        "{s}广场舞音乐太吵，晚上十点还没停",
        "{v}{s}的大妈们跳舞声音太大，孩子没法写作业",
        "{s}广场舞大喇叭放得震天响",
        "{s}晚上音响声太大了，跳舞的人也不管别人休息",
        "{s}那一帮人跳坝坝舞，音响开到最大",
    ), (
        "{s}每天晚上动次打次的，我家娃儿作业都写不进去",
    )),
    M("stray_dogs", "治安", "any", "place", (
        "{s}有好几条流浪狗，追着小孩咬",
        "{s}野狗成群，晚上不敢出门",
        "{v}{s}一条大黄狗咬了人，也没有人管",
        "{s}流浪狗越来越多，到处拉屎还吓人",
        "{s}的狗子见人就叫，还扑上来，上学的娃儿好怕",
        "{s}有疯狗，已经咬伤两个人了",
    ), (
        "{s}我家孩子放学被追着跑，腿上被咬了一口，去打了狂犬疫苗",
    )),
    M("school_bus", "交通", "rural", "place", (
        "{s}接送学生的校车超载，小面包车挤了二十来个娃",
        "{s}上车的那趟校车人太多了，孩子都站着，门都关不上",
        "校车每天从{s}出发，车上塞得满满当当，出了事谁负责",
        "{v}{s}的校车是改装的面包车，坐得满满的，严重超员",
        "我孩子每天在{s}坐校车，车太挤了，有孩子被挤哭",
        "{s}校车超员，而且好像是黑车，没有资质",
    ), (
        "{s}每天早上那辆面包车后门都关不严，娃娃们叠着坐",
    )),
    M("trucks", "交通", "rural", "place", (
        "{s}渣土车开得飞快，还一路掉土",
        "{s}大货车超速，村民过马路太危险",
        "{v}{s}每天几十辆拉沙的大车，开得横冲直撞",
        "{s}重型货车日夜通行，房子都震裂了",
        "{s}的运输车超载超速，路上全是掉下来的石子",
    ), (
        "{s}轰隆隆一辆接一辆过去，灰大得窗户都不敢开",
    )),
    M("gas_smell", "燃气供暖", "urban", "urban", (
        "{s}楼道里有很重的煤气味",
        "{s}闻到燃气泄漏的味道，很刺鼻",
        "{v}{s}一进去就一股天然气味，怕爆炸",
        "{s}那一层有一股臭鸡蛋味，应该是燃气漏了",
        "{s}燃气管道好像漏气，嘶嘶的响",
        "急！{s}有煤气味",
    ), (
        "{s}一进门就头晕，味道冲得很，邻居都不敢开火",
    )),
    M("heating", "燃气供暖", "urban", "urban", (
        "{s}暖气不热，家里才十二三度",
        "{s}的暖气片是凉的，{d}了",
        "{v}{s}供暖温度不达标，老人孩子都冻感冒了",
        "{s}暖器一点都不热，交了取暖费跟没交一样",
        "{s}整栋楼暖气都不热，物业说是管道有气",
        "{s}家里的暖气摸着温吞吞的，一点不热",
    ), (
        "{s}家里冷得要穿羽绒服睡觉，老人冻病了",
    )),
    M("elevator", "安全", "urban", "urban", (
        "{s}的电梯坏了{d}了，老人上不去楼",
        "{s}电梯又停了，住在十八楼天天爬楼",
        "{v}{s}电梯经常关人，昨天又困了一个小孩",
        "{s}电梯运行时抖得厉害，还有异响，不敢坐",
        "{s}电梯按钮失灵，门也关不上",
        "{s}的电梯{d}没修好，物业一直推",
    ), (
        "{s}我家老人腿脚不好，{d}没下过楼了，只能在家待着",
    )),
    M("parking", "安全", "urban", "urban", (
        "{s}有车长期占用消防通道",
        "{s}乱停车，消防车根本进不来",
        "{v}{s}门口天天停满了车，堵得出不去",
        "{s}的车停得乱七八糟，救护车都进不来",
        "{s}消防通道被私家车堵死了，出了事怎么办",
    ), (
        "{s}昨天有人发病，救护车在外面进不来，抬了好远",
    )),
    M("wage_arrears", "劳动", "any", "employers", (
        "{s}欠我们工资{d}了，一直不给",
        "我在{s}干了半年活，老板拖着工钱不发",
        "{s}拖欠农民工工资，我们十几个人都没拿到钱",
        "{s}的老板跑了，欠了大家的血汗钱",
        "去年在{s}干活的钱到现在还没结",
        "{s}说年底结账，现在都过年了还不给钱",
        "要工资！{s}欠薪",
    ), (
        "{s}干了一年活，家里孩子学费都交不起了，找老板也找不到人",
    )),
    M("social_insurance", "劳动", "any", "employers", (
        "{s}不给我们交社保",
        "{s}不签劳动合同，受伤了也不管",
        "在{s}上班三年了，没有交过五险",
        "{s}干活不签合同，没有任何保障",
    ), ()),
    M("illegal_building", "建房", "any", "place", (
        "{s}有人违章搭建，占了公共道路",
        "{s}新盖了一栋房子，没有审批，违建",
        "{v}{s}那户在自家房顶上加盖了两层",
        "{s}有人占用耕地建房",
        "{s}私搭乱建的彩钢棚，把路都堵了一半",
        "举报{s}违建，晚上偷偷施工",
    ), (
        "{s}那家的新房一夜之间起了两层，路都窄了一半",
    )),
    M("danger_house", "建房", "rural", "place", (
        "{s}有间老房子墙都裂了，随时可能倒",
        "{s}那个土坯房下雨漏得厉害，里面还住着老人",
        "{s}危房，墙体开裂倾斜",
        "{v}{s}五保户住的房子房梁都朽了",
    ), ()),
    M("market_prices", "市场", "any", "markets", (
        "{s}的猪肉一天涨了好几块",
        "{s}的菜价乱涨，同样的白菜比别处贵一倍",
        "{s}趁着过节哄抬物价",
        "{s}东西都不标价，看人要价",
        "{v}{s}的鸡蛋价格一天一个样，乱涨价",
    ), ()),
    M("short_weight", "市场", "any", "markets", (
        "{s}卖菜的缺斤短两，一斤只有八两",
        "{s}的秤有问题，买了两斤肉回家称只有一斤六两",
        "{s}有商贩用鬼秤",
        "在{s}买东西被坑了，秤不准",
    ), ()),
    M("expired_food", "市场", "any", "markets", (
        "{s}卖过期的牛奶",
        "在{s}买的面包过期了，还在卖",
        "{s}的食品过期了还在架子上，给小孩买的零食都过期",
        "{s}卖的方便面过期两个月了",
    ), ()),
]  # fmt: skip
assert len({m.key for m in MATTERS}) == len(MATTERS) >= 15
# Matters of a whole village or compound at once: a water cut is one matter wherever in the village it is
# told from, and the site's night work is heard from every street around it. Reports of these from two
# spots of one village are the same problem (pos_area_wide), never a "different spot" negative.
# The catalogue leaf each matter is filed under (a county's catalogue is finer than the default one);
# school buses and lorries share 交通隐患, as they would.
CATEGORY = {
    "road": "道路破损", "streetlight": "路灯损坏", "manhole": "井盖缺失", "flooding": "积水内涝",
    "water_cut": "停水", "water_quality": "水质问题", "power_cut": "停电", "garbage": "垃圾清运",
    "sewage": "污水横流", "straw_burning": "秸秆焚烧", "construction_noise": "施工噪声",
    "square_dance": "生活噪声", "stray_dogs": "流浪犬", "school_bus": "交通隐患", "trucks": "交通隐患",
    "gas_smell": "燃气泄漏", "heating": "供暖不热", "elevator": "电梯故障", "parking": "消防隐患",
    "wage_arrears": "拖欠工资", "social_insurance": "劳动合同", "illegal_building": "违章建设",
    "danger_house": "危房改造", "market_prices": "价格监管", "short_weight": "计量监管", "expired_food": "食品安全",
}  # fmt: skip
AREA_WIDE = {"water_cut", "water_quality", "power_cut", "straw_burning", "construction_noise", "school_bus", "trucks"}

OPENERS = [
    "", "", "", "你好，", "您好，我想反映个事情。", "你好我是{v}的村民，", "我要投诉，", "麻烦问一下，",
    "领导你好，", "网格员你好，", "@网格员 ", "【{v}】", "请问一下，", "我反映一个问题，",
]  # fmt: skip
CLOSERS = [
    "", "", "", "希望尽快处理。", "麻烦尽快派人来看看，谢谢！", "请相关部门尽快解决。", "谢谢！", "急！！！",
    "已经反映过好几次了，请重视。", "盼复。", "望领导重视", "多谢了",
]  # fmt: skip
# Unrelated sentences people add; some name other matters on purpose (a long text is not about one thing).
EXTRAS = [
    "我家老人身体不好，晚上经常要出门买药。", "我们家在这边住了二十多年了。",
    "上次打电话也说会来看，结果一直没人来。", "孩子马上要中考了。", "我是在外地打工的，听家里人说的。",
    "前两天刚下过雨。", "村里年轻人都出去打工了，剩下都是老人小孩。", "另外我们组的低保名单也想问一下。",
    "顺便说一下，村里的广播声音太大了。", "还有我家的医保卡一直没拿到。", "我老伴腿脚不方便。",
    "我们这边是新搬来的，不太清楚找谁。", "我是听隔壁王大爷说的。", "这个事情大家都知道。",
    "上个月也是这样。", "我在群里也说过了。", "村干部说不归他们管。", "我家门口的快递老是丢。",
    "附近超市卖的东西也挺贵的。", "我们这里离镇上远，办事不方便。", "对了，疫苗什么时候打也想问问。",
    "现在天气热了，大家晚上都在外面乘凉。", "我每天早上六点出门上班。", "我儿子在县城读书。",
    "前几年修过一次，没用多久。", "我拍了照片，可以发给你们。", "大家意见都很大。",
    "其他地方都弄好了，就我们这里没人管。", "我就是想问问到底归哪个部门管。", "这种情况持续很久了。",
    "我家种了十几亩地，每天都要从这里过。", "电话打了好几个都是转来转去。", "前阵子还上了本地的新闻。",
    "我也不懂这些政策。", "不好意思打扰了。", "我们小区物业也不怎么管事。", "家里还养了两头牛。",
    "我想了解一下补贴的事情。", "我平时在镇上摆摊。", "说了好多次了，都是敷衍。",
]  # fmt: skip
HOTLINE_HEAD = [
    "【12345转办】工单号{n}，市民来电反映：", "市民来电反映：", "来电人称，", "12345热线转办：来电人反映，",
    "市民来电（号码{p}）反映：",
]  # fmt: skip
HOTLINE_TAIL = [
    "来电人希望相关部门尽快处理。", "请于3个工作日内办结并回复。", "请相关单位核实处理。", "", "来电人要求回电。",
]  # fmt: skip
# Typing errors of the pinyin-input kind, and dialect/spoken words (applied where they occur).
TYPOS = {
    "垃圾": "拉圾", "暖气": "暖器", "路灯": "路登", "井盖": "井概", "电梯": "电体", "燃气": "然气",
    "噪音": "燥音", "已经": "以经", "下水道": "下水到", "积水": "急水", "拖欠": "拖前", "工资": "工姿",
    "物业": "无业", "小区": "小曲", "停电": "停店", "漏": "露", "堵": "赌", "坏": "怀", "再": "在",
    "校车": "小车", "超载": "超栽", "违建": "为建", "秸秆": "节杆", "流浪狗": "流浪够", "施工": "师工",
    "危险": "危先", "反映": "反应", "麻烦": "马烦", "自来水": "自来谁",
}  # fmt: skip
DIALECT = {
    "我们": "俺们", "什么": "啥", "怎么": "咋", "没有": "没得", "孩子": "娃儿", "这里": "这搭",
    "很": "老", "晚上": "夜里", "小孩": "伢子", "不知道": "晓不得", "看看": "瞅瞅", "那边": "那嘎达",
}  # fmt: skip
LONG_STORY = [
    "事情是这样的，", "我先说一下情况，", "说来话长，", "我把情况从头说一下：",
]  # fmt: skip


@dataclass
class Spot:
    alts: list[str]
    lat: float
    lng: float
    grid: int


@dataclass
class Place:
    id: int
    town: int
    name: str
    urban: bool
    lat: float
    lng: float
    grids: list[int]
    spots: dict[str, list[Spot]] = field(default_factory=dict)  # by spot pool: place, urban/rural, …

    def path(self, grid: int | None) -> str:
        base = f"/1/{self.town}/{self.id}/"
        return base if grid is None else f"{base}{grid}/"


RURAL_NAMES = [
    "东村", "西村", "李家庄", "王家湾", "张家坝", "柳树屯", "石门村", "桃源村", "青山村", "河口村", "杨柳村",
    "大石村", "新庄村", "马家沟", "高桥村", "白沙村", "黄土岭", "双河村", "龙潭村", "三里铺",
]  # fmt: skip
URBAN_NAMES = ["幸福小区", "阳光花园", "滨河家园", "锦绣苑", "书香门第", "翠苑小区", "新华里", "金色港湾"]


def build_county(rng: random.Random) -> list[Place]:
    """Six towns 8–12 km apart; rural villages 2–4 km from their town's centre, urban communities in it."""
    places: list[Place] = []
    next_id = 10
    rural = iter(rng.sample(RURAL_NAMES, len(RURAL_NAMES)))
    urban = iter(rng.sample(URBAN_NAMES, len(URBAN_NAMES)))
    for t in range(6):
        town = 2 + t
        tlat, tlng = 30.0 + (t // 3) * 0.1, 114.0 + (t % 3) * 0.1
        for k in range(5):
            is_urban = k < (2 if t < 4 else 0)
            name = next(urban) if is_urban else next(rural, None)
            if name is None:
                break
            ang, dist_km = rng.uniform(0, 2 * math.pi), (rng.uniform(0.3, 1.0) if is_urban else rng.uniform(2, 4))
            lat = tlat + dist_km / 111 * math.sin(ang)
            lng = tlng + dist_km / 96 * math.cos(ang)
            pid = next_id
            grids = list(range(pid * 100 + 1, pid * 100 + 1 + rng.randint(4, 8)))
            next_id += 1
            place = Place(pid, town, name, is_urban, lat, lng, grids)
            # A village spreads over ~1.5 km, a compound over ~300 m.
            spread = 0.3 if is_urban else 1.2
            pools = {"place": URBAN_SPOTS if is_urban else RURAL_SPOTS, "urban": URBAN_SPOTS, "rural": RURAL_SPOTS}
            pools |= {"employers": EMPLOYERS, "markets": MARKETS}
            for pool, lists in pools.items():
                place.spots[pool] = [
                    Spot(
                        alts,
                        lat + rng.uniform(-spread, spread) / 2 / 111,
                        lng + rng.uniform(-spread, spread) / 2 / 96,
                        rng.choice(grids),
                    )
                    for alts in lists
                ]
            places.append(place)
    return places


def matters_for(place: Place) -> list[Matter]:
    return [m for m in MATTERS if m.setting == "any" or (m.setting == "urban") == place.urban]


def _swap(text: str, table: dict[str, str], rng: random.Random, k: int) -> str:
    keys = [w for w in table if w in text]
    for w in rng.sample(keys, min(k, len(keys))):
        text = text.replace(w, table[w], 1)
    return text


@dataclass
class Style:
    typo: float = 0.15
    dialect: float = 0.12
    extras: float = 0.3
    long: bool = False
    hotline: bool = False
    voice: float = 0.08


def tell(rng: random.Random, way: str, place: Place, spot: str, style: Style) -> str:
    """One resident's report: the way of telling at the spot, dressed as people write (or as 12345 types it)."""
    text = way.format(s=spot, v=place.name if rng.random() < 0.6 else "", d=rng.choice(DURATIONS))
    if not text.endswith(("。", "！", "？", "!")):
        text += rng.choice(["。", "，", "！", ""])
    parts = [text]
    if style.long:
        story = rng.sample(EXTRAS, rng.randint(5, 14))
        cut = rng.randint(0, len(story))
        parts = [rng.choice(LONG_STORY), *story[:cut], text, *story[cut:]]
    elif rng.random() < style.extras:
        extra = rng.sample(EXTRAS, rng.randint(1, 3))
        parts = [*extra, text] if rng.random() < 0.3 else [text, *extra]
    body = "".join(parts)
    if style.hotline:
        head = rng.choice(HOTLINE_HEAD)  # then the numbers: the draws in the order the pairs file was made
        number, phone = f"GZ{rng.randint(10**9, 10**10 - 1)}", f"1{rng.randint(10**9, 10**10 - 1)}"
        head = head.format(n=number, p=phone)
        body = f"{head}{place.name}{body}{rng.choice(HOTLINE_TAIL)}"
    else:
        body = rng.choice(OPENERS).format(v=place.name) + body + rng.choice(CLOSERS)
    if rng.random() < style.typo:
        body = _swap(body, TYPOS, rng, rng.randint(1, 3))
    if rng.random() < style.dialect:
        body = _swap(body, DIALECT, rng, rng.randint(1, 3))
    if rng.random() < style.voice:  # spoken into the phone: no punctuation, hesitations
        body = "".join(ch for ch in body if ch not in "，。！？、：；!?,.")
        body = body.replace("的", "的那个", 1) if rng.random() < 0.5 else "就是说" + body
    return body


@dataclass
class Report:
    category: str
    text: str
    path: str
    lat: float | None
    lng: float | None
    days_ago: float


def _report(
    rng: random.Random,
    m: Matter,
    way: str,
    place: Place,
    spot: Spot,
    *,
    style: Style,
    alt: str | None = None,
    grid: int | str | None = "near",
    coords: bool | None = None,
    days_ago: float | None = None,
) -> Report:
    text = tell(rng, way, place, alt if alt is not None else rng.choice(spot.alts), style)
    # Reporters live in the spot's grid or elsewhere in the village ("near"), or where the caller says.
    if grid == "near":
        g: int | None = spot.grid if rng.random() < 0.6 else rng.choice(place.grids)
    else:
        g = spot.grid if grid == "spot" else grid  # type: ignore[assignment]
    if style.hotline:
        g, coords = None, False
    if coords is None:
        coords = rng.random() < 0.55
    lat = lng = None
    if coords:
        # The phone's pin is near the problem, within ~150 m.
        r, ang = rng.uniform(0, 150), rng.uniform(0, 2 * math.pi)
        lat = round(spot.lat + r * math.sin(ang) / 111_000, 6)
        lng = round(spot.lng + r * math.cos(ang) / 96_000, 6)
    days = round(days_ago if days_ago is not None else rng.uniform(0, 10), 2)
    return Report(_category(rng, m), text, place.path(g), lat, lng, days)


def _category(rng: random.Random, m: Matter) -> str:
    """The category an order would carry: one in five not classified yet, one in eight filed wrongly
    (mostly under a sibling of the same group, as a resident or a classifier would err)."""
    r = rng.random()
    if r < 0.2:
        return ""
    if r < 0.325:
        siblings = [x for x in MATTERS if x.group == m.group and x.key != m.key]
        other = rng.choice(siblings if siblings and rng.random() < 0.7 else MATTERS)
        return CATEGORY[other.key]
    return CATEGORY[m.key]


def _style(rng: random.Random, **kw: float | bool) -> Style:
    s = Style(hotline=rng.random() < 0.12)
    for k, v in kw.items():
        setattr(s, k, v)
    return s


def _two_ways(rng: random.Random, m: Matter, *, indirect: bool = False) -> tuple[str, str]:
    if indirect and m.indirect:
        return rng.choice(m.ways), rng.choice(m.indirect)
    a, b = rng.sample(m.ways, 2)
    return a, b


def make_pair(rng: random.Random, places: list[Place], kind: str) -> tuple[Report, Report, int]:
    place = rng.choice(places)
    if kind == "pos_indirect":
        place = rng.choice([p for p in places if any(m.indirect for m in matters_for(p))])
    ms = matters_for(place)
    if kind == "pos_indirect":
        m = rng.choice([x for x in ms if x.indirect])
    elif kind == "pos_area_wide":
        m = rng.choice([x for x in ms if x.key in AREA_WIDE])
    elif kind in ("neg_same_problem_other_spot", "neg_other_village"):
        m = rng.choice([x for x in ms if x.key not in AREA_WIDE])
    else:
        m = rng.choice(ms)
    spot = rng.choice(place.spots[m.spots])
    t0 = rng.uniform(0, 12)
    near = lambda: max(0.0, t0 + rng.uniform(-5, 5))  # noqa: E731
    if kind.startswith("pos_"):
        wa, wb = _two_ways(rng, m, indirect=kind == "pos_indirect")
        sa, sb = _style(rng), _style(rng)
        alt_a = alt_b = None
        grid_a: int | str | None = "near"
        grid_b: int | str | None = "near"
        if kind == "pos_same_grid":
            sa.hotline = sb.hotline = False
            grid_a = grid_b = "spot"
        elif kind == "pos_other_grid":
            sa.hotline = sb.hotline = False
            grid_a, grid_b = "spot", rng.choice([g for g in place.grids if g != spot.grid])
        elif kind == "pos_landmark":
            alt_a, alt_b = rng.sample(spot.alts, 2)
        elif kind == "pos_long":
            sb.long, sb.hotline = True, False
        elif kind == "pos_typo_dialect":
            sa.typo = sb.typo = 1.0
            sa.dialect = sb.dialect = 0.7
        elif kind == "pos_hotline":
            sa.hotline, sb.hotline = True, False
        spot_b = spot
        if kind == "pos_area_wide":
            spot_b = rng.choice([x for x in place.spots[m.spots] if x is not spot])
        a = _report(rng, m, wa, place, spot, style=sa, alt=alt_a, grid=grid_a, days_ago=t0)
        b = _report(rng, m, wb, place, spot_b, style=sb, alt=alt_b, grid=grid_b, days_ago=near())
        return a, b, 1
    wa = rng.choice(m.ways)
    a = _report(rng, m, wa, place, spot, style=_style(rng), days_ago=t0)
    if kind == "neg_same_cat_same_village":
        others = [x for x in ms if x.group == m.group and x.key != m.key]
        if not others:
            return make_pair(rng, places, kind)
        m2 = rng.choice(others)
        spot2 = spot if rng.random() < 0.5 and m2.spots == m.spots else rng.choice(place.spots[m2.spots])
        b = _report(rng, m2, rng.choice(m2.ways), place, spot2, style=_style(rng), days_ago=near())
    elif kind == "neg_same_problem_other_spot":
        spot2 = rng.choice([s for s in place.spots[m.spots] if s is not spot])
        # Sometimes the other spot's reporter lives in this spot's grid (a neighbour's problem, seen on the way).
        grid_b = spot.grid if rng.random() < 0.3 else "near"
        b = _report(rng, m, rng.choice(m.ways), place, spot2, style=_style(rng), grid=grid_b, days_ago=near())
    elif kind in ("neg_other_village", "neg_other_town"):
        same_town = kind == "neg_other_village"
        cands = [p for p in places if p is not place and (p.town == place.town) == same_town and m in matters_for(p)]
        if m.spots == "employers":  # one employer's workers come from many villages: that is one matter
            cands = []
        if not cands:
            return make_pair(rng, places, kind)
        p2 = rng.choice(cands)
        # Often the very same landmark type (every village has a 村口) and even the same words.
        idx = place.spots[m.spots].index(spot)
        pool2 = p2.spots[m.spots]
        spot2 = pool2[idx] if idx < len(pool2) and rng.random() < 0.7 else rng.choice(pool2)
        way = wa if rng.random() < 0.3 else rng.choice(m.ways)
        b = _report(rng, m, way, p2, spot2, style=_style(rng), days_ago=near())
    elif kind == "neg_months_apart":
        way = wa if rng.random() < 0.3 else rng.choice(m.ways)
        b = _report(rng, m, way, place, spot, style=_style(rng), days_ago=t0 + rng.uniform(60, 150))
    elif kind == "neg_same_spot_other_matter":
        others = [x for x in ms if x.group != m.group and x.spots == m.spots]
        if not others:
            return make_pair(rng, places, kind)
        m2 = rng.choice(others)
        b = _report(rng, m2, rng.choice(m2.ways), place, spot, style=_style(rng), days_ago=near())
    elif kind == "neg_unrelated":
        p2 = place if rng.random() < 0.5 else rng.choice(places)
        m2 = rng.choice([x for x in matters_for(p2) if x.group != m.group])
        way2 = rng.choice(m2.ways)  # drawn before the spot, as the pairs file was made
        b = _report(rng, m2, way2, p2, rng.choice(p2.spots[m2.spots]), style=_style(rng), days_ago=near())
    else:
        raise ValueError(kind)
    if rng.random() < 0.5:
        a, b = b, a
    return a, b, 0


KINDS = [
    "pos_same_grid", "pos_other_grid", "pos_landmark", "pos_long", "pos_typo_dialect", "pos_hotline",
    "pos_indirect", "pos_area_wide", "neg_same_cat_same_village", "neg_same_problem_other_spot", "neg_other_village",
    "neg_other_town", "neg_months_apart", "neg_same_spot_other_matter", "neg_unrelated",
]  # fmt: skip


def build_pairs(seed: int = 7, per_kind: int = 44) -> list[dict[str, str]]:
    rng = random.Random(seed)
    places = build_county(rng)
    rows: list[dict[str, str]] = []

    def cell(x: float | None) -> str:
        return "" if x is None else str(x)

    for kind in KINDS:
        for _ in range(per_kind):
            a, b, same = make_pair(rng, places, kind)
            rows.append({
                "a_text": a.text, "a_place": a.path, "a_lat": cell(a.lat), "a_lng": cell(a.lng),
                "a_days_ago": str(a.days_ago), "b_text": b.text, "b_place": b.path, "b_lat": cell(b.lat),
                "b_lng": cell(b.lng), "b_days_ago": str(b.days_ago), "same": str(same), "kind": kind,
                "a_category": a.category, "b_category": b.category,
            })  # fmt: skip
    rng.shuffle(rows)
    return rows


@dataclass
class SynthDoc:
    """A synthetic appeal for timing and clustering: `matter` names the planted problem it belongs to."""

    id: int
    text: str
    path: str
    lat: float | None
    lng: float | None
    days_ago: float
    household: str
    matter: int
    category: str


def synthetic_docs(n: int, *, seed: int = 1, mean_size: float = 3.0, long_share: float = 0.03) -> list[SynthDoc]:
    """`n` appeals of one county over 30 days: problems (a matter at a spot, at a time) each reported by a
    geometric number of households (mean `mean_size`); a few long texts (1,000–10,000 chars)."""
    rng = random.Random(seed)
    places = build_county(rng)
    docs: list[SynthDoc] = []
    problem = 0
    seen: dict[tuple[int, str, int], tuple[float, int]] = {}
    while len(docs) < n:
        place = rng.choice(places)
        m = rng.choice(matters_for(place))
        k = rng.randrange(len(place.spots[m.spots]))
        spot = place.spots[m.spots][k]
        t0 = rng.uniform(0, 30)
        # Drawn twice within three weeks, one matter at one spot (or one village-wide matter) is one problem.
        key = (place.id, m.key, -1 if m.key in AREA_WIDE else k)
        if key in seen and abs(seen[key][0] - t0) < 21:
            this = seen[key][1]
        else:
            this, problem = problem, problem + 1
            seen[key] = (t0, this)
        size = 1
        while rng.random() > 1 / mean_size and size < 40:
            size += 1
        ways = list(m.ways) + list(m.indirect)
        for _ in range(min(size, n - len(docs))):
            style = _style(rng, long=rng.random() < long_share)
            r = _report(rng, m, rng.choice(ways), place, spot, style=style, grid="near",
                        days_ago=max(0.0, t0 + rng.uniform(-3, 3)))  # fmt: skip
            text = r.text
            if style.long and rng.random() < 0.3:
                text = (text + "".join(rng.sample(EXTRAS, 20))) * rng.randint(2, 12)
            docs.append(SynthDoc(len(docs) + 1, text[:10_000], r.path, r.lat, r.lng, r.days_ago,
                                 f"h{place.id}-{rng.randint(1, 400)}", this, r.category))  # fmt: skip
    return docs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--pairs-per-kind", type=int, default=44)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    rows = build_pairs(args.seed, args.pairs_per_kind)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=HEADER)
        w.writeheader()
        w.writerows(rows)
    pos = sum(r["same"] == "1" for r in rows)
    print(f"wrote {len(rows)} pairs ({pos} same, {len(rows) - pos} not) of {len(KINDS)} kinds to {args.out}")


if __name__ == "__main__":
    main()
