"""data.layouts on small fixture files in the official formats (videos are empty placeholders)."""

import os

import pytest

from data.layouts import list_videos


def touch(root, *rels):
    for rel in rels:
        path = os.path.join(root, *rel.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "wb").close()


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def table(listing):
    return {(e.video_id, e.split, e.label, e.label_name) for e in listing.entries}


def notes(listing, status):
    return sorted(os.path.basename(n.path) for n in listing.notes if n.status == status)


def test_ucf101_official_lists(tmp_path):
    videos, splits = str(tmp_path / "UCF-101"), str(tmp_path / "ucfTrainTestlist")
    touch(
        videos,
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi",
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi",
        "Archery/v_Archery_g08_c02.avi",
        "HandstandPushups/v_HandStandPushups_g01_c01.avi",
        "Archery/v_Archery_g20_c01.avi",  # in no list of split 1
    )
    os.makedirs(splits)
    write(os.path.join(splits, "classInd.txt"), "1 ApplyEyeMakeup\n2 Archery\n3 HandstandPushups\n")
    write(
        os.path.join(splits, "trainlist01.txt"),
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\r\n"
        "Archery/v_Archery_g08_c02.avi 2\r\n"
        "Archery/v_Archery_g09_c01.avi 2\r\n",  # not on disk
    )
    write(
        os.path.join(splits, "testlist01.txt"),
        "ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\nHandstandPushups/v_HandstandPushups_g01_c01.avi\n",
    )
    listing = list_videos("ucf101", videos, splits, split=1)
    assert listing.classes == ["ApplyEyeMakeup", "Archery", "HandstandPushups"]
    assert table(listing) == {
        ("ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01", "train", 0, "ApplyEyeMakeup"),
        ("Archery/v_Archery_g08_c02", "train", 1, "Archery"),
        ("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01", "test", 0, "ApplyEyeMakeup"),
        # the test list spells the file "Handstand", the disk "HandStand"
        ("HandstandPushups/v_HandStandPushups_g01_c01", "test", 2, "HandstandPushups"),
    }
    missing = [n for n in listing.notes if n.status == "missing"]
    assert [n.path for n in missing] == ["Archery/v_Archery_g09_c01.avi"]
    assert missing[0].reason.startswith(f"named in {os.path.join(splits, 'trainlist01.txt')}:3")
    assert notes(listing, "unused") == ["v_Archery_g20_c01.avi"]


def test_ucf101_flat_folder_and_malformed_lines(tmp_path):
    videos = str(tmp_path)
    touch(videos, "v_Archery_g08_c02.avi")
    write(str(tmp_path / "classInd.txt"), "1 ApplyEyeMakeup\n2 Archery\n")
    write(str(tmp_path / "trainlist02.txt"), "Archery/v_Archery_g08_c02.avi 2\n")
    write(str(tmp_path / "testlist02.txt"), "")
    listing = list_videos("ucf101", videos, split=2)
    assert table(listing) == {("v_Archery_g08_c02", "train", 1, "Archery")}
    write(str(tmp_path / "trainlist02.txt"), "Archery/v_Archery_g08_c02.avi 7\n")
    with pytest.raises(ValueError, match=r"trainlist02.txt:1"):
        list_videos("ucf101", videos, split=2)
    write(str(tmp_path / "classInd.txt"), "1 ApplyEyeMakeup\n3 Archery\n")
    with pytest.raises(ValueError, match="classInd.txt"):
        list_videos("ucf101", videos, split=2)


def test_hmdb51_split_files(tmp_path):
    videos, splits = str(tmp_path / "hmdb51"), str(tmp_path / "splits")
    touch(
        videos,
        "brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0.avi",
        "brush_hair/Blonde_being_brushed_brush_hair_f_nm_np2_ri_med_0.avi",
        "brush_hair/unused_clip_0.avi",
        "cartwheel/(Rad)Schlagen_cartwheel_f_cm_np1_le_med_0.avi",
    )
    os.makedirs(splits)
    write(
        os.path.join(splits, "brush_hair_test_split1.txt"),
        "April_09_brush_hair_u_nm_np1_ba_goo_0.avi 1 \n"
        "Blonde_being_brushed_brush_hair_f_nm_np2_ri_med_0.avi 2 \n"
        "unused_clip_0.avi 0 \n",
    )
    write(
        os.path.join(splits, "cartwheel_test_split1.txt"),
        "(Rad)Schlagen_cartwheel_f_cm_np1_le_med_0.avi 1 \nGone_cartwheel_0.avi 2 \n",
    )
    write(os.path.join(splits, "cartwheel_test_split2.txt"), "(Rad)Schlagen_cartwheel_f_cm_np1_le_med_0.avi 2 \n")
    listing = list_videos("hmdb51", videos, splits, split=1)
    assert listing.classes == ["brush_hair", "cartwheel"]
    assert table(listing) == {
        ("brush_hair/April_09_brush_hair_u_nm_np1_ba_goo_0", "train", 0, "brush_hair"),
        ("brush_hair/Blonde_being_brushed_brush_hair_f_nm_np2_ri_med_0", "test", 0, "brush_hair"),
        ("cartwheel/(Rad)Schlagen_cartwheel_f_cm_np1_le_med_0", "train", 1, "cartwheel"),
    }
    assert notes(listing, "unused") == ["unused_clip_0.avi"]
    assert [n.path for n in listing.notes if n.status == "missing"] == ["Gone_cartwheel_0.avi"]
    assert "marked 0" in [n for n in listing.notes if n.status == "unused"][0].reason
    # split 2 names only cartwheel, so brush_hair is absent from its classes
    assert list_videos("hmdb51", videos, splits, split=2).classes == ["cartwheel"]


def test_kinetics_csv(tmp_path):
    videos = str(tmp_path / "k400")
    touch(
        videos,
        "abseiling/--0edUL8zmA_000015_000025.mp4",  # in a label folder
        "zumba/-0aRqQn9Dqs_000004_000014.mp4",
        "3Xk9aBwT0pY_000001_000011.mp4",  # flat
        "extra/unknown_000000_000010.mp4",
    )
    csv = str(tmp_path / "train.csv")
    write(
        csv,
        "label,youtube_id,time_start,time_end,split,is_cc\n"
        "abseiling,--0edUL8zmA,15,25,train,0\n"
        "zumba,-0aRqQn9Dqs,4,14,train,0\n"
        '"air drumming",missingVid01,30,40,train,0\n',
    )
    val = str(tmp_path / "validate.csv")
    write(val, "label,youtube_id,time_start,time_end,split\nzumba,3Xk9aBwT0pY,1.0,11.0,val\n")
    listing = list_videos("kinetics", videos, kinetics_csv=(csv, val))
    assert listing.classes == ["abseiling", "air drumming", "zumba"]
    assert table(listing) == {
        ("abseiling/--0edUL8zmA_000015_000025", "train", 0, "abseiling"),
        ("zumba/-0aRqQn9Dqs_000004_000014", "train", 2, "zumba"),
        ("3Xk9aBwT0pY_000001_000011", "test", 2, "zumba"),
    }
    missing = [n for n in listing.notes if n.status == "missing"]
    assert [n.path for n in missing] == ["missingVid01_000030_000040"] and f"{csv}:4" in missing[0].reason
    assert notes(listing, "unused") == ["unknown_000000_000010.mp4"]
    write(csv, "label,youtube_id,split\nzumba,x,train\n")
    with pytest.raises(ValueError, match="time_end"):
        list_videos("kinetics", videos, kinetics_csv=(csv,))


def test_folder_layout_classes_splits_and_non_videos(tmp_path):
    videos = str(tmp_path)
    touch(videos, "train/walk/a.mp4", "train/run/b.MP4", "test/walk/c.avi", "test/loose.mp4", "other/d.mp4")
    touch(videos, "train/run/readme.txt")
    listing = list_videos("folder", videos)
    assert listing.classes == ["run", "walk"]
    assert table(listing) == {
        ("train/walk/a", "train", 1, "walk"),
        ("train/run/b", "train", 0, "run"),
        ("test/walk/c", "test", 1, "walk"),
    }
    assert notes(listing, "skipped") == ["readme.txt"]
    assert notes(listing, "unused") == ["d.mp4", "loose.mp4"]
    unlabeled = list_videos("folder", videos, labeled=False)
    assert unlabeled.classes == [] and {(e.split, e.label) for e in unlabeled.entries} == {("train", -1), ("test", -1)}
    assert len(unlabeled.entries) == 4  # loose.mp4 counts once labels are not wanted


def test_folder_layout_without_classes_needs_unlabeled(tmp_path):
    touch(str(tmp_path), "a.mp4", "b.mp4")
    with pytest.raises(ValueError, match="--unlabeled"):
        list_videos("folder", str(tmp_path))
    listing = list_videos("folder", str(tmp_path), labeled=False)
    assert table(listing) == {("a", "unsplit", -1, ""), ("b", "unsplit", -1, "")}
    with pytest.raises(ValueError, match="does not exist"):
        list_videos("folder", str(tmp_path / "absent"))


def test_video_ids_stay_unique_when_only_the_suffix_differs(tmp_path):
    touch(str(tmp_path), "walk/x.avi", "walk/x.mp4", "walk/y.mp4")
    ids = [e.video_id for e in list_videos("folder", str(tmp_path)).entries]
    assert ids == ["walk/x.avi", "walk/x.mp4", "walk/y"]
