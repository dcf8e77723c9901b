"""The text classifier of smart dispatch (triage.text): it learns categories from a small generated county,
its probabilities behave, it stores and loads without change and refuses what it did not write, one
normal form for every text, and a very long appeal costs no more than a bounded one."""

from __future__ import annotations

import io
import json
import random
import time

import numpy as np
import pytest

from triage.text import DEFAULT_PARAMS, MAGIC, MAX_CHARS, TextModel, build_pipeline, normalise

# Eight matters a county gets, each said several ways; a sentence adds an opener, a place with a number, a
# time and a closer around one of them.
MATTERS: dict[str, list[str]] = {
    "路灯": ["路灯不亮了", "路灯坏了晚上黑漆漆的", "灯杆上的灯一直闪", "好几盏路灯都熄了", "街灯晚上不开"],
    "垃圾": ["垃圾没人清运", "垃圾桶满了发臭", "垃圾堆在路边没人拉走", "垃圾池好多天没清", "生活垃圾乱堆乱放"],
    "噪音": ["广场舞音响太吵", "装修噪音吵得睡不着", "夜里施工噪音扰民", "烧烤摊喧哗吵闹到半夜", "喇叭声太大影响休息"],
    "供水": ["自来水停了一整天", "水管爆了到处是水", "水压太低楼上没水", "自来水发黄有异味", "水龙头放不出水"],
    "道路": ["路面坑洼不平", "马路上有个大坑", "人行道砖块松动", "下雨路面积水过不去", "道路塌陷了一块"],
    "欠薪": ["老板拖欠工资不给", "干了半年工钱没结", "包工头欠薪跑路了", "公司三个月没发薪水", "劳务费一直拖着不付"],
    "低保": ["低保怎么申请", "困难补助停发了", "想问低保需要什么材料", "临时救助去哪里办理", "特困供养金没到账"],
    "物业": ["物业不管事", "物业费乱收", "物业公司服务太差", "电梯坏了物业不修", "物业把绿地改成停车位"],
}  # fmt: skip
OPENERS = ["", "你好，", "市民来电反映：", "麻烦问一下，", "诉求人称，", "网友留言："]
PLACES = ["城关镇", "河西街道", "东坝乡", "新华社区", "青山村", "柳林镇", "幸福小区", "阳光花园"]
OTHER_PLACES = ["开发区", "老街", "南门口", "白沙村"]
TIMES = ["", "最近", "这几天", "昨天晚上", "已经一个多月了，"]
CLOSERS = ["", "希望尽快处理。", "请相关部门管一管。", "谢谢！", "要求回电。"]
LABELS = sorted(MATTERS)


def appeal(label: str, rng: random.Random, places: list[str] = PLACES) -> str:
    place = f"{rng.choice(places)}{rng.randint(1, 40)}号楼"
    return f"{rng.choice(OPENERS)}{place}{rng.choice(TIMES)}{rng.choice(MATTERS[label])}，{rng.choice(CLOSERS)}"


def dataset(per_label: int, seed: int, places: list[str] = PLACES) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    pairs = [(appeal(label, rng, places), label) for label in LABELS for _ in range(per_label)]
    return [t for t, _ in pairs], [label for _, label in pairs]


@pytest.fixture(scope="module")
def model() -> TextModel:
    texts, labels = dataset(15, seed=1)
    return TextModel.fit(texts, labels, seed=0)


# --- learning ------------------------------------------------------------------------------------------


def test_held_out_appeals_are_mostly_right(model):
    texts, labels = dataset(10, seed=2, places=OTHER_PLACES)
    predicted, confidence = model.predict_many(texts)
    right = sum(a == b for a, b in zip(predicted, labels, strict=True))
    assert right / len(texts) >= 0.9
    assert all(0.0 < c <= 1.0 for c in confidence)
    assert model.labels == tuple(LABELS)
    assert model.info["trained_on"] == 120 and model.info["labels"] == 8 and model.info["features"] > 100


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("青山村的路灯坏了，晚上黑漆漆的，请尽快修理", "路灯"),
        ("小区门口的垃圾没人清运，已经发臭了", "垃圾"),
        ("楼下装修噪音太大，吵得睡不着", "噪音"),
        ("自来水停了，家里没水用", "供水"),
        ("老板拖欠工资三个月了", "欠薪"),
        ("请问低保怎么申请，需要什么材料", "低保"),
        ("物业费乱收，物业公司也不管事", "物业"),
        ("马路上有个大坑，路面坑洼不平", "道路"),
    ],
)
def test_clear_examples(model, text, label):
    assert model.predict(text, k=1)[0][0] == label


def test_model_matches_the_scikit_learn_pipeline_it_came_from():
    """TextModel does the tf-idf and the link itself: its probabilities must be what the pipeline's are,
    for softmax (multinomial logreg), one-vs-rest (SGD) and the two-label case."""
    texts, labels = dataset(6, seed=3)
    probe, _ = dataset(2, seed=4, places=OTHER_PLACES)
    probe += ["", "！！！", "completely unknown latin words"]
    two = [label if label == "路灯" else "其他" for label in labels]
    for params, ys in (
        (DEFAULT_PARAMS, labels),
        ({**DEFAULT_PARAMS, "classifier": "sgd"}, labels),
        (DEFAULT_PARAMS, two),
        ({**DEFAULT_PARAMS, "analyzer": "char12"}, two),
    ):
        pipeline = build_pipeline(params, seed=0).fit(texts, ys)
        ours = TextModel.from_pipeline(pipeline, params, trained_on=len(texts)).predict_proba(probe)
        assert np.allclose(ours, pipeline.predict_proba(probe), atol=1e-5), params


def test_fit_refuses_what_it_cannot_learn_from():
    with pytest.raises(ValueError, match="pair up"):
        TextModel.fit(["路灯坏了", "垃圾没人清"], ["路灯"])
    with pytest.raises(ValueError, match="no training texts"):
        TextModel.fit([], [])
    with pytest.raises(ValueError, match="only one label"):
        TextModel.fit(["路灯坏了", "路灯不亮"], ["路灯", "路灯"])
    with pytest.raises(ValueError, match="label is empty"):
        TextModel.fit(["路灯坏了", "垃圾没人清"], ["路灯", ""])
    with pytest.raises(ValueError, match="no characters"):
        TextModel.fit(["！！", "？？ …"], ["路灯", "垃圾"])


def test_a_few_short_texts_that_share_nothing_still_train():
    """min_df=2 would leave no feature; the fallback counts every one."""
    m = TextModel.fit(["灯", "水"], ["路灯", "供水"])
    assert m.predict("灯", k=1)[0][0] == "路灯"
    assert m.predict("水", k=1)[0][0] == "供水"


# --- probabilities -------------------------------------------------------------------------------------


def test_probabilities_are_sorted_and_sum_to_at_most_one(model):
    texts, _ = dataset(2, seed=5)
    for text in [*texts, "", "？？", "abc"]:
        top = model.predict(text, k=3)
        assert len(top) == 3 and len({label for label, _ in top}) == 3
        ps = [p for _, p in top]
        assert ps == sorted(ps, reverse=True)
        assert all(0.0 <= p <= 1.0 for p in ps) and sum(ps) <= 1.0 + 1e-9
        every = model.predict(text, k=100)
        assert len(every) == len(LABELS) and sum(p for _, p in every) == pytest.approx(1.0)
        assert every[:3] == top
    assert model.predict("路灯坏了", k=0) == []
    rows = model.predict_proba(texts)
    assert rows.shape == (len(texts), len(LABELS)) and np.allclose(rows.sum(axis=1), 1.0)


def test_predict_many_agrees_with_predict(model):
    texts, _ = dataset(2, seed=6)
    labels, confidence = model.predict_many(texts)
    for text, label, c in zip(texts, labels, confidence, strict=True):
        best = model.predict(text, k=1)[0]
        assert best[0] == label and best[1] == pytest.approx(c, abs=1e-6)
    assert model.predict_many([]) == ([], [])


# --- storage -------------------------------------------------------------------------------------------


def test_round_trip_gives_identical_predictions(model):
    blob = model.to_bytes()
    assert blob.startswith(MAGIC)
    loaded = TextModel.from_bytes(blob)
    texts, _ = dataset(3, seed=7, places=OTHER_PLACES)
    assert loaded.labels == model.labels and loaded.info == model.info
    assert loaded.predict_many(texts) == model.predict_many(texts)
    assert np.array_equal(loaded.predict_proba(texts), model.predict_proba(texts))
    assert [loaded.predict(t) for t in texts] == [model.predict(t) for t in texts]
    assert TextModel.from_bytes(bytearray(blob)).labels == model.labels


def _with_meta(blob: bytes, **changes) -> bytes:
    with np.load(io.BytesIO(blob[len(MAGIC) :]), allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    meta = json.loads(arrays["meta"].tobytes().decode())
    meta.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del meta[key]
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    out = io.BytesIO()
    np.savez(out, **arrays)
    return MAGIC + out.getvalue()


def test_from_bytes_refuses_what_it_did_not_write(model):
    blob = model.to_bytes()
    for bad in (b"", b"garbage", b"PK\x03\x04" + blob[8:], b"GZTEXT2\n" + blob[8:], "a string"):
        with pytest.raises(ValueError, match="not a smart-dispatch text model"):
            TextModel.from_bytes(bad)
    for bad in (MAGIC, MAGIC + b"junk", blob[: len(blob) // 2]):
        with pytest.raises(ValueError, match="damaged or truncated"):
            TextModel.from_bytes(bad)
    with pytest.raises(ValueError, match="unsupported text model format 2"):
        TextModel.from_bytes(_with_meta(blob, format=2))
    with pytest.raises(ValueError, match="description is incomplete"):
        TextModel.from_bytes(_with_meta(blob, link=None))
    with pytest.raises(ValueError, match="do not fit"):
        TextModel.from_bytes(_with_meta(blob, labels=[*LABELS, "多出来的"]))
    with pytest.raises(ValueError, match="unknown analyzer"):
        TextModel.from_bytes(_with_meta(blob, params={"analyzer": "jieba"}))


def test_pickled_arrays_are_not_loaded(model):
    """allow_pickle=False: an object array in the file is refused, not unpickled."""
    out = io.BytesIO()
    np.savez(
        out, meta=np.array([{"format": 1}], dtype=object), idf=np.zeros(1), coef=np.zeros(1), intercept=np.zeros(1)
    )
    with pytest.raises(ValueError, match="damaged or truncated"):
        TextModel.from_bytes(MAGIC + out.getvalue())


# --- normal form ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ＡＢＣ路灯１２３号", "abc路灯0号"),  # full-width latin and digits, lower case, a digit run is one 0
        ("路灯，坏了！！", "路灯 坏了"),  # punctuation runs are one space
        ("路灯  \t\n 坏了", "路灯 坏了"),
        ("路\u200b灯\u00ad坏\ufeff了\u202e", "路灯坏了"),  # invisible characters vanish
        ("\u3000路灯\u3000", "路灯"),  # ideographic space, trimmed
        ("电话13812345678，2023年5月", "电话0 0年0月"),
        ("路灯坏了😡😡", "路灯坏了"),
        ("【12345转办】", "0转办"),
        ("under_score", "under score"),
        ("", ""),
        ("！？。", ""),
    ],
)
def test_normalise(raw, expected):
    assert normalise(raw) == expected


def test_variants_of_one_appeal_predict_alike(model):
    plain = "幸福小区3号楼路灯不亮了，希望尽快处理。"
    for variant in ("幸福小区３号楼路灯不亮了！！希望尽快处理", "幸福小区99号楼路灯\u200b不亮了…希望尽快处理"):
        assert model.predict(variant) == model.predict(plain)


# --- bounded cost --------------------------------------------------------------------------------------


def test_a_long_text_predicts_in_bounded_time(model):
    rng = random.Random(8)
    long = "".join(appeal("供水", rng) for _ in range(600))[:10_000]
    assert len(long) == 10_000 and len(normalise(long)) == MAX_CHARS
    t0 = time.perf_counter()
    for _ in range(5):
        top = model.predict(long)
    assert (time.perf_counter() - t0) / 5 < 0.2
    assert top[0][0] == "供水"
    # Only the opening counts: what comes after the first MAX_CHARS * 4 raw characters changes nothing.
    assert model.predict(long + "垃圾没人清运" * 1000) == top
    assert model.predict_many([long])[0] == ["供水"]
