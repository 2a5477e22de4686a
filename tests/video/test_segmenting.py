"""Pure logic of video_segment_index: commands, names, ids, documents, events."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from mediaflow.common.s3_events import decode_event_key, objects_from_asset_events, objects_from_message
from mediaflow.video.commands import ProgressParser, expected_segments, redact, segment_command
from mediaflow.video.index import (
    SegmentRecord,
    owned_by,
    parent_item,
    segment_item,
    video_id,
)
from mediaflow.video.probe import MediaInfo
from mediaflow.video.segmenting import (
    KeyTemplateError,
    SourceName,
    is_video_key,
    output_container,
    render_prefix,
    segment_key,
)

INFO = MediaInfo("mov,mp4", 65.04, True, 1080, 1920, 90, 29.97, "h264", True, "aac")


# -- commands ---------------------------------------------------------------------------------------
def test_copy_command_uses_the_segment_muxer_with_stream_copy():
    cmd = segment_command(
        "in.mp4", "out/segment_%04d.mp4", seconds=10, mode="copy", segment_format="mp4", has_audio=True
    )
    joined = " ".join(cmd)
    assert "-c copy" in joined and "-f segment -segment_time 10" in joined
    assert "-reset_timestamps 1" in joined and "-segment_format mp4" in joined
    assert "-map 0:v:0 -map 0:a?" in joined and "-force_key_frames" not in joined
    assert "-progress pipe:1" in joined and cmd[-1] == "out/segment_%04d.mp4"


def test_exact_command_forces_keyframes_on_every_boundary():
    cmd = segment_command(
        "https://b.s3/k?X-Amz-Signature=s",
        "o_%04d.mkv",
        seconds=7,
        mode="exact",
        segment_format="matroska",
        has_audio=False,
    )
    assert cmd[cmd.index("-force_key_frames") + 1] == "expr:gte(t,n_forced*7)"
    assert cmd[cmd.index("-c:v") + 1] == "libx264" and "-c:a" not in cmd and "0:a?" not in cmd
    assert cmd.index("-rw_timeout") < cmd.index("-i"), "HTTP input gets a read timeout"


def test_exact_webm_picks_encoders_webm_accepts():
    cmd = segment_command("in.webm", "o.webm", seconds=5, mode="exact", segment_format="webm", has_audio=True)
    assert cmd[cmd.index("-c:v") + 1] == "libvpx-vp9" and cmd[cmd.index("-c:a") + 1] == "libopus"


@pytest.mark.parametrize(("kwargs", "message"), [({"mode": "fast"}, "mode"), ({"seconds": 0}, "at least 1")])
def test_bad_settings_are_refused(kwargs, message):
    args = {"seconds": 10, "mode": "copy", **kwargs}
    with pytest.raises(ValueError, match=message):
        segment_command("i", "o", segment_format="mp4", has_audio=False, **args)


def test_expected_segments():
    assert expected_segments(65.0, 10) == 7
    assert expected_segments(60.0, 10) == 6
    assert expected_segments(3.0, 10) == 1


def test_progress_parser_reports_each_block():
    parser = ProgressParser()
    lines = [
        "frame=250",
        "out_time_us=10000000",
        "speed=42x",
        "progress=continue",
        "out_time_us=20000000",
        "progress=end",
    ]
    blocks = [b for b in (parser.feed(line) for line in lines) if b]
    assert [b.out_time_s for b in blocks] == [10.0, 20.0]
    assert blocks[0].describe(40.0) == "10.0s of 40.0s, 25%, frame 250, speed 42x"
    assert not blocks[0].done and blocks[1].done
    assert parser.feed("out_time_us=N/A") is None


def test_redact_hides_presigned_urls():
    url = "https://bucket.s3.amazonaws.com/a.mp4?X-Amz-Signature=abc"
    assert redact(f"{url}: Invalid data", [url], "s3://bucket/a.mp4") == "s3://bucket/a.mp4: Invalid data"


# -- names and keys -----------------------------------------------------------------------------------
def test_source_name_and_segment_keys():
    name = SourceName.from_key("uploads/2024/My Clip.MOV")
    assert (name.name, name.extension, name.directory) == ("My Clip", ".MOV", "uploads/2024")
    prefix = render_prefix("project/{video_name}/split", name, "media")
    assert prefix == "project/My Clip/split"
    assert segment_key(prefix, name.name, 12, ".MOV") == "project/My Clip/split/My Clip_0012.MOV"
    assert render_prefix("/{source_bucket}/{source_dir}/{extension}/", name, "media") == "media/uploads/2024/MOV"
    assert segment_key("", "a", 0, ".mp4") == "a_0000.mp4"


@pytest.mark.parametrize("template", ["{name}/x", "{video_name!r}{", "{0}"])
def test_unknown_template_fields_are_refused(template):
    with pytest.raises(KeyTemplateError, match="output_key_prefix"):
        render_prefix(template, SourceName.from_key("a.mp4"), "b")


@pytest.mark.parametrize(
    ("ext", "probed", "expected"),
    [
        (".mp4", "mov,mp4,m4a,3gp,3g2,mj2", (".mp4", "mp4")),
        (".MKV", "matroska,webm", (".MKV", "matroska")),
        (".mov", "mov,mp4,m4a,3gp,3g2,mj2", (".mov", "mov")),
        ("", "matroska,webm", (".mkv", "matroska")),
        (".bin", "mov,mp4,m4a,3gp,3g2,mj2", (".mp4", "mp4")),
    ],
)
def test_output_container_follows_input(ext, probed, expected):
    assert output_container(ext, probed) == expected


def test_unknown_container_is_a_clear_error():
    with pytest.raises(ValueError, match="rename the object"):
        output_container(".xyz", "gif")


def test_video_keys():
    assert is_video_key("a/b.MP4") and is_video_key("x.mkv")
    assert not is_video_key("a/notes.txt") and not is_video_key("folder.mp4/")


# -- ids and documents ----------------------------------------------------------------------------------
def test_video_ids_are_deterministic_positive_and_fit_dynamodb():
    parent = video_id("media", "uploads/a.mp4", '"9b2cf535f27731c974343645a3985328"')
    assert parent == video_id("media", "uploads/a.mp4", "9b2cf535f27731c974343645a3985328"), "quotes do not matter"
    assert 0 < parent < 10**38 and len(str(parent)) == 36
    segments = [video_id("media", "uploads/a.mp4", "9b2c", i) for i in range(3)]
    assert len({parent, *segments}) == 4
    assert video_id("media", "uploads/a.mp4", "other-etag") != parent
    assert video_id("media", "uploads/b.mp4", "9b2c") != video_id("media", "uploads/a.mp4", "9b2c")
    assert str(segments[2]).endswith("000003")
    with pytest.raises(ValueError, match="outside"):
        video_id("b", "k", "e", 10**6)


def test_documents_keep_the_original_shape_with_decimals():
    seg = SegmentRecord(0, 2, "out", "p/a_0000.mp4", "a_0000", ".mp4", INFO)
    item = segment_item(seg, 1, "2026-01-01T00:00:00+00:00")
    assert item == {
        "VideoId": Decimal(2),
        "process_step": "timesplit",
        "creation_time": "2026-01-01T00:00:00+00:00",
        "bucket": "out",
        "key": "p/a_0000.mp4",
        "name": "a_0000",
        "extension": ".mp4",
        "size": [Decimal(1080), Decimal(1920)],
        "fps": Decimal("29.97"),
        "duration": Decimal("65.04"),
        "audio": True,
        "parent_video": Decimal(1),
    }
    parent = parent_item(1, "in", "a.mp4", "a", ".mp4", INFO, [2], "t")
    assert parent["sub_videos"] == [Decimal(2)] and parent["process_step"] == "upload" and "parent_video" not in parent
    assert all(not isinstance(v, float) for v in parent.values())


def test_ownership_rules():
    parent = parent_item(1, "in", "a.mp4", "a", ".mp4", INFO, [], "t")
    assert owned_by({"process_step": "upload", "bucket": "in", "key": "a.mp4"}, parent)
    assert not owned_by({"process_step": "upload", "bucket": "in", "key": "b.mp4"}, parent)
    seg = segment_item(SegmentRecord(0, 2, "o", "k", "n", ".mp4", INFO), 1, "t")
    assert owned_by({"process_step": "timesplit", "parent_video": Decimal(1), "key": "moved"}, seg)
    assert not owned_by({"process_step": "timesplit", "parent_video": Decimal(9)}, seg)
    assert not owned_by({"process_step": "upload", "bucket": "o", "key": "k"}, seg)


# -- events ---------------------------------------------------------------------------------------------
def _s3_event(key: str, name: str = "ObjectCreated:Put") -> dict:
    return {"Records": [{"eventName": name, "s3": {"bucket": {"name": "media"}, "object": {"key": key}}}]}


def test_event_keys_are_url_decoded():
    assert decode_event_key("uploads/My+Clip%281%29.mp4") == "uploads/My Clip(1).mp4"
    message = {"Body": json.dumps(_s3_event("uploads/My+Clip%281%29.mp4"))}
    assert objects_from_message(message) == [{"bucket": "media", "key": "uploads/My Clip(1).mp4"}]


def test_test_events_and_other_events_start_nothing():
    assert objects_from_message({"Body": json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"})}) == []
    assert objects_from_message({"Body": json.dumps(_s3_event("a.mp4", "ObjectRemoved:Delete"))}) == []
    assert objects_from_message({"Body": "not json"}) == []


def test_sns_envelopes_and_repeats():
    wrapped = {"Body": json.dumps({"Type": "Notification", "Message": json.dumps(_s3_event("a.mp4"))})}
    raw = {"Body": json.dumps(_s3_event("b.mp4"))}
    extras = [{"payload": {"message_batch": [wrapped, raw]}}, {"payload": {"message_batch": [raw]}}, {}]
    assert objects_from_asset_events(extras) == [
        {"bucket": "media", "key": "a.mp4"},
        {"bucket": "media", "key": "b.mp4"},
    ]


def test_watcher_filter_drops_test_events():
    """The jsonpath filter the DAG gives the SQS trigger, applied by the installed provider."""
    from airflow.providers.amazon.aws.utils.sqs import filter_messages

    from mediaflow.common.s3_events import OBJECT_CREATED_EVENTS

    test_event = {"MessageId": "1", "Body": json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"})}
    upload = {"MessageId": "2", "Body": json.dumps(_s3_event("uploads/a.mp4", "ObjectCreated:CompleteMultipartUpload"))}
    kept = filter_messages([test_event, upload], "jsonpath", OBJECT_CREATED_EVENTS, "Records[*].eventName")
    assert [m["MessageId"] for m in kept] == ["2"]
