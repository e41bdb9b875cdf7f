"""Pose data for every exercise picture, keyed by the `pose` id used in exercises.toml.

Each pose is a side view of a figure facing right, which shows its LEFT side: the near limbs are
the left ones, so the working limb of a per-side exercise is drawn near and highlighted, and the
right-side picture is the mirror image. See render.py for the units and angle convention
(degrees counter-clockwise from +x; the floor at y = 10; a standing figure is ~70 units tall).

Helpers below place feet on the floor and hands on props by target points (solved with
two-link inverse kinematics), so nothing floats or sinks through the floor.
"""

from __future__ import annotations

from collections.abc import Mapping

from .render import (
    ANKLE_H,
    CHAIR_BACK_H,
    GROUND_Y,
    HEAD_R,
    NECK,
    SHIN_W,
    THIGH,
    TORSO,
    TORSO_W,
    Arm,
    Leg,
    Mark,
    Point,
    Pose,
    Prop,
    along,
    ankle_on_ground,
)

G = GROUND_Y
STAND_HIP_Y = 44.4  # hip height standing with soft knees
SEAT_TOP = 20.5  # top of a chair seat
SEAT_HIP_Y = SEAT_TOP + TORSO_W / 2 - 0.2
CHAIR_BACK_TOP = SEAT_TOP + CHAIR_BACK_H
FLOOR = Prop("floor")


def foot_at(x: float, foot: float = 0.0, bend: int = 1, ground: float = G) -> Leg:
    """A leg whose foot (at angle `foot`) rests on `ground` with the ankle at x."""
    return Leg(to=ankle_on_ground(x, foot, ground), foot=foot, bend=bend)


def hand_at(x: float, y: float, bend: int = -1) -> Arm:
    """An arm whose wrist is at (x, y); bend -1 lets the elbow hang below / behind."""
    return Arm(to=(x, y), bend=bend)


def arrow(x0: float, y0: float, x1: float, y1: float) -> Mark:
    return Mark("arrow", ((x0, y0), (x1, y1)))


def darrow(x0: float, y0: float, x1: float, y1: float) -> Mark:
    return Mark("darrow", ((x0, y0), (x1, y1)))


def arc(c: Point, r: float, a0: float, a1: float, both: bool = False) -> Mark:
    return Mark("arc", (c,), r=r, a0=a0, a1=a1, both=both)


def spot(c: Point, r: float) -> Mark:
    return Mark("spot", (c,), r=r)


def shoulder_of(hip: Point, torso: float) -> Point:
    return along(hip, TORSO, torso)


def head_of(hip: Point, torso: float, head: float | None = None) -> Point:
    return along(shoulder_of(hip, torso), NECK + HEAD_R, torso if head is None else head)


ARMS_DOWN = (Arm(-96.0, -86.0), Arm(-92.0, -82.0))


def _hands_on_hips(hip: Point) -> tuple[Arm, Arm]:
    return hand_at(hip[0] + 1.5, hip[1] + 3.5), hand_at(hip[0] + 2.5, hip[1] + 4.0)


# ---------------------------------------------------------------- hip flexors


def _half_kneel() -> Pose:
    cushion_h = 2.4
    knee = (36.0, G + cushion_h + SHIN_W / 2)
    hip = along(knee, THIGH, -98 + 180)
    return Pose(
        hip=hip,
        torso=91,
        near_leg=Leg(thigh=-98, shin=183, foot=196),
        far_leg=foot_at(hip[0] + 15.5),
        near_arm=hand_at(hip[0] + 10, hip[1] + 0.5),
        far_arm=hand_at(hip[0] + 12, hip[1] + 1.0),
        props=(FLOOR, Prop("cushion", knee[0] - 7, w=14, h=cushion_h)),
        marks=(arc(hip, 9.5, 190, 245),),
        highlight=frozenset({"near_leg"}),
    )


def _lunge(reach: bool) -> Pose:
    hip = (50.0, 38.5)
    near_arm, far_arm = _hands_on_hips(hip)
    marks = [arc(hip, 9.5, 190, 245)]
    if reach:
        # up and a little back, so the arm clears the head in a side view
        near_arm = Arm(110, 112)
    return Pose(
        hip=hip,
        torso=91 if not reach else 94,
        near_leg=foot_at(hip[0] - 19, foot=-40),
        far_leg=foot_at(hip[0] + 16),
        near_arm=near_arm,
        far_arm=far_arm,
        props=(FLOOR,),
        marks=tuple(marks),
        highlight=frozenset({"near_leg", "near_arm"} if reach else {"near_leg"}),
    )


def _foot_on_chair() -> Pose:
    hip = (44.0, 43.0)
    chair_x = hip[0] + 19
    return Pose(
        hip=hip,
        torso=90,
        near_leg=foot_at(hip[0] - 4),
        far_leg=foot_at(chair_x - 6, ground=SEAT_TOP),
        near_arm=hand_at(hip[0] + 12, hip[1] + 5),
        far_arm=hand_at(hip[0] + 13.5, hip[1] + 5.5),
        props=(FLOOR, Prop("chair", chair_x, SEAT_TOP, angle=1)),
        marks=(arc(hip, 9.5, 190, 245),),
        highlight=frozenset({"near_leg"}),
    )


def _quad_hold() -> Pose:
    hip = (46.0, STAND_HIP_Y)
    knee = along(hip, THIGH, -100)
    ankle = along(knee, 16, 112)
    chair_x = hip[0] + 21
    return Pose(
        hip=hip,
        torso=90,
        near_leg=Leg(thigh=-100, shin=112, foot=172),
        far_leg=foot_at(hip[0] + 0.5),
        near_arm=hand_at(ankle[0] + 0.5, ankle[1] + 2.0),
        far_arm=hand_at(chair_x - 8.5, CHAIR_BACK_TOP),
        props=(FLOOR, Prop("chair", chair_x, SEAT_TOP)),
        highlight=frozenset({"near_leg"}),
    )


def _seated_edge() -> Pose:
    chair_x = 34.0
    hip = (chair_x + 6.0, SEAT_HIP_Y + 0.5)
    return Pose(
        hip=hip,
        torso=92,
        near_leg=Leg(thigh=221, shin=160, foot=-95),
        far_leg=foot_at(hip[0] + 16),
        near_arm=hand_at(hip[0] - 6, SEAT_TOP + 1, bend=1),
        far_arm=hand_at(hip[0] + 9, hip[1] + 3),
        props=(FLOOR, Prop("chair", chair_x, SEAT_TOP)),
        highlight=frozenset({"near_leg"}),
    )


def _knee_hug() -> Pose:
    hip = (52.0, G + TORSO_W / 2)
    far_knee = along(hip, THIGH, 124)
    return Pose(
        hip=hip,
        torso=177,
        head=170,
        near_leg=Leg(thigh=0, shin=-2.5, foot=78),
        far_leg=Leg(thigh=124, shin=22, foot=30),
        near_arm=hand_at(far_knee[0] + 3.5, far_knee[1] - 1.5, bend=-1),
        far_arm=hand_at(far_knee[0] + 4.5, far_knee[1] - 2.5, bend=-1),
        props=(FLOOR, Prop("mat", 12, w=80)),
        highlight=frozenset({"near_leg"}),
    )


def _bridge() -> Pose:
    shoulder = (32.0, G + TORSO_W / 2 + 1.0)
    torso = 34.0  # hip -> shoulder direction is 180 + 34 = 214 degrees
    hip = along(shoulder, TORSO, torso)
    return Pose(
        hip=hip,
        torso=180 + torso,
        head=172,
        near_leg=foot_at(hip[0] + 14),
        far_leg=foot_at(hip[0] + 15.5),
        near_arm=Arm(-4, -1),
        far_arm=Arm(-3, 0),
        props=(FLOOR, Prop("mat", 12, w=76)),
        marks=(arrow(hip[0], hip[1] + 7, hip[0], hip[1] + 17),),
    )


def _constructive_rest() -> Pose:
    hip = (58.0, G + TORSO_W / 2)
    torso = 177.0
    shoulder = shoulder_of(hip, torso)
    return Pose(
        hip=hip,
        torso=torso,
        head=163,
        near_leg=foot_at(hip[0] + 16),
        far_leg=foot_at(hip[0] + 17.5),
        near_arm=hand_at(hip[0] + 0.5, hip[1] + 4.6, bend=-1),
        far_arm=hand_at(hip[0] + 2, hip[1] + 4.8, bend=-1),
        props=(
            FLOOR,
            Prop("mat", 6, w=84),
            Prop("book", shoulder[0] - 14.5, G, w=11, h=2.6),
        ),
    )


# ---------------------------------------------------------------- seated and standing, desk


def _seated(
    hip_x: float = 44.0,
    torso: float = 92,
    head: float | None = None,
    near_leg: Leg | None = None,
    far_leg: Leg | None = None,
    near_arm: Arm | None = None,
    far_arm: Arm | None = None,
    props: tuple[Prop, ...] = (),
    marks: tuple[Mark, ...] = (),
    highlight: frozenset[str] = frozenset(),
    chair: bool = True,
) -> Pose:
    hip = (hip_x, SEAT_HIP_Y)
    chair_props = (Prop("chair", hip_x + 4.2, SEAT_TOP),) if chair else ()
    return Pose(
        hip=hip,
        torso=torso,
        head=head,
        near_leg=near_leg or foot_at(hip_x + 15),
        far_leg=far_leg or foot_at(hip_x + 16.5),
        near_arm=near_arm or hand_at(hip_x + 11, hip[1] + 4.5),
        far_arm=far_arm or hand_at(hip_x + 12.5, hip[1] + 5),
        props=(FLOOR, *chair_props, *props),
        marks=marks,
        highlight=frozenset(highlight),  # type: ignore[arg-type]
    )


def _figure_four() -> Pose:
    hip_x = 42.0
    hip = (hip_x, SEAT_HIP_Y)
    far = foot_at(hip_x + 17.5)
    # The crossed shin lies across the far knee; its thigh points at the viewer (foreshortened).
    far_knee_y = hip[1] - 1.0
    near = Leg(to=(hip_x + 19.0, far_knee_y + 5.2), bend=1, foot=-10, scale=(0.62, 0.62, 0.8))
    return _seated(
        hip_x=hip_x,
        torso=74,
        head=80,
        near_leg=near,
        far_leg=far,
        near_arm=hand_at(hip_x + 12.5, hip[1] + 7.5),
        far_arm=hand_at(hip_x + 17, hip[1] + 6.5),
        highlight=frozenset({"near_leg"}),
    )


def _seated_pelvic_tilt() -> Pose:
    hip = (44.0, SEAT_HIP_Y)
    return _seated(marks=(arc(hip, 9.5, 150, 235, both=True),))


def _standing_pelvic_tilt() -> Pose:
    hip = (50.0, STAND_HIP_Y - 1.0)
    near_arm, far_arm = _hands_on_hips(hip)
    return Pose(
        hip=hip,
        near_leg=foot_at(hip[0] - 1),
        far_leg=foot_at(hip[0] + 1.5),
        near_arm=near_arm,
        far_arm=far_arm,
        props=(FLOOR,),
        marks=(arc(hip, 10, 155, 235, both=True),),
    )


def _back_extension() -> Pose:
    hip = (52.0, STAND_HIP_Y - 0.3)
    torso = 104.0
    head = head_of(hip, torso, 96)
    return Pose(
        hip=hip,
        torso=torso,
        head=96,
        near_leg=foot_at(hip[0] - 3.5),
        far_leg=foot_at(hip[0] - 1.5),
        near_arm=hand_at(hip[0] - 5.5, hip[1] + 5, bend=-1),
        far_arm=hand_at(hip[0] - 4.5, hip[1] + 5.5, bend=-1),
        props=(FLOOR,),
        marks=(arc(hip, head[1] - hip[1] + 9, 88, 110),),
    )


def _doorway() -> Pose:
    # Seen from the front: forearms up the two sides of the door frame, elbows at shoulder
    # height (the "goal post" arms), the body about to lean through the doorway.
    hip = (50.0, STAND_HIP_Y)
    half_gap = 22.0
    return Pose(
        hip=hip,
        view="front",
        near_leg=foot_at(hip[0] + 5.0, foot=0, bend=1),
        far_leg=Leg(to=ankle_on_ground(hip[0] - 5.0, 180), foot=180, bend=-1),
        near_arm=Arm(upper=0, lower=90, scale=(1.12, 0.95)),
        far_arm=Arm(upper=180, lower=90, scale=(1.12, 0.95)),
        props=(
            FLOOR,
            Prop("door", hip[0] + half_gap - 0.5, w=6),
            Prop("door", hip[0] - half_gap - 5.5, w=6),
        ),
    )


def _chin_tuck() -> Pose:
    hip = (44.0, SEAT_HIP_Y)
    head = head_of(hip, 92, 94)
    return _seated(
        head=94,
        marks=(arrow(head[0] + 17, head[1] - 1, head[0] + 9, head[1] - 1),),
    )


def _desk_seated() -> Pose:
    hip_x = 38.0
    hip = (hip_x, SEAT_HIP_Y)
    return _seated(
        hip_x=hip_x,
        torso=95,
        head=92,
        near_arm=hand_at(hip_x + 20, 40.8),
        far_arm=hand_at(hip_x + 22, 41.0),
        props=(Prop("desk", hip_x + 12, 38.5, w=30, h=14),),
        marks=(arrow(hip[0] - 12.5, hip[1] + 10, hip[0] - 7, hip[1] + 10),),
    )


def _stand_desk() -> Pose:
    hip = (38.0, STAND_HIP_Y)
    return Pose(
        hip=hip,
        near_leg=foot_at(hip[0] - 1.5),
        far_leg=foot_at(hip[0] + 2.5),
        near_arm=hand_at(hip[0] + 16, 51.6),
        far_arm=hand_at(hip[0] + 18, 51.8),
        props=(FLOOR, Prop("desk", hip[0] + 10, 49.5, w=28, h=13)),
    )


def _sit_to_stand() -> Pose:
    hip = (47.0, 35.0)
    return Pose(
        hip=hip,
        torso=58,
        head=70,
        near_leg=foot_at(hip[0] + 9),
        far_leg=foot_at(hip[0] + 10.5),
        near_arm=Arm(-40, -10),
        far_arm=Arm(-35, -5),
        props=(FLOOR, Prop("chair", hip[0] - 4, SEAT_TOP)),
        marks=(arrow(hip[0] - 14, hip[1] - 2, hip[0] - 14, hip[1] + 12),),
    )


def _seated_march() -> Pose:
    hip_x = 44.0
    lifted = Leg(to=(hip_x + 16.5, ANKLE_H + G + 8), bend=1, foot=-8)
    knee_top = (hip_x + 15, SEAT_HIP_Y + 13)
    return _seated(
        hip_x=hip_x,
        near_leg=lifted,
        marks=(arrow(knee_top[0] + 9, knee_top[1] - 6, knee_top[0] + 9, knee_top[1] + 4),),
    )


def _march() -> Pose:
    hip = (48.0, STAND_HIP_Y)
    return Pose(
        hip=hip,
        torso=90,
        near_leg=Leg(thigh=-8, shin=-92, foot=-12),
        far_leg=foot_at(hip[0] + 0.5),
        near_arm=Arm(-118, -96),
        far_arm=Arm(-52, 8),
        props=(FLOOR,),
        marks=(arrow(hip[0] + 24, hip[1] - 14, hip[0] + 24, hip[1] - 2),),
    )


def _walk(hip: Point = (46.0, STAND_HIP_Y - 1.2), mark: bool = True) -> Pose:
    return Pose(
        hip=hip,
        torso=88,
        near_leg=foot_at(hip[0] + 11, foot=14),
        far_leg=foot_at(hip[0] - 11, foot=-32),
        near_arm=Arm(-112, -95),
        far_arm=Arm(-62, -38),
        props=(FLOOR,),
        marks=(arrow(hip[0] + 22, hip[1] + 10, hip[0] + 33, hip[1] + 10),) if mark else (),
    )


def _calf_raise() -> Pose:
    hip = (44.0, STAND_HIP_Y + 4.0)
    chair_x = hip[0] + 16
    heel_x = hip[0] - 2
    return Pose(
        hip=hip,
        torso=90,
        near_leg=foot_at(heel_x + 1, foot=-48),
        far_leg=foot_at(heel_x + 2.5, foot=-48),
        near_arm=hand_at(chair_x - 8.5, CHAIR_BACK_TOP),
        far_arm=hand_at(chair_x - 8, CHAIR_BACK_TOP + 0.5),
        props=(FLOOR, Prop("chair", chair_x, SEAT_TOP)),
        marks=(arrow(heel_x - 8, G + 3, heel_x - 8, G + 14),),
    )


# ---------------------------------------------------------------- drivers, stopped

TRUCK_X = 80.0
STEP_TOP = 27.0


def _truck_walk() -> Pose:
    pose = _walk(hip=(62.0, STAND_HIP_Y - 1.2), mark=False)
    return Pose(
        hip=pose.hip,
        torso=pose.torso,
        near_leg=pose.near_leg,
        far_leg=pose.far_leg,
        near_arm=pose.near_arm,
        far_arm=pose.far_arm,
        props=(FLOOR, Prop("truck_side", 4.0)),
        marks=(arrow(77, 58, 89, 58),),
        centre=False,
    )


def _truck_lunge() -> Pose:
    hip = (50.0, 40.0)
    return Pose(
        hip=hip,
        torso=72,
        head=78,
        near_leg=foot_at(hip[0] - 20, foot=0),
        far_leg=foot_at(hip[0] + 12),
        near_arm=hand_at(TRUCK_X - 0.5, 58),
        far_arm=hand_at(TRUCK_X - 0.5, 59),
        props=(FLOOR, Prop("truck_front", TRUCK_X, STEP_TOP)),
        highlight=frozenset({"near_leg"}),
        centre=False,
    )


def _truck_step_stretch() -> Pose:
    hip = (57.0, 42.0)
    return Pose(
        hip=hip,
        torso=90,
        near_leg=foot_at(hip[0] - 12, foot=-20),
        far_leg=foot_at(TRUCK_X - 3.5, ground=STEP_TOP),
        near_arm=hand_at(TRUCK_X - 2.2, 56),
        far_arm=hand_at(hip[0] + 11, hip[1] + 3),
        props=(FLOOR, Prop("truck_front", TRUCK_X, STEP_TOP)),
        marks=(arc(hip, 9.5, 190, 245),),
        highlight=frozenset({"near_leg"}),
        centre=False,
    )


def _truck_step_up() -> Pose:
    hip = (63.0, 47.0)
    return Pose(
        hip=hip,
        torso=86,
        near_leg=foot_at(TRUCK_X - 3.5, ground=STEP_TOP),
        far_leg=foot_at(hip[0] - 9, foot=-38),
        near_arm=hand_at(TRUCK_X - 2.2, 60),
        far_arm=Arm(-70, -40),
        props=(FLOOR, Prop("truck_front", TRUCK_X, STEP_TOP)),
        marks=(arrow(hip[0] - 20, 42, hip[0] - 20, 56),),
        highlight=frozenset({"near_leg"}),
        centre=False,
    )


# ---------------------------------------------------------------- in the cab

CAB_SEAT_X = 30.0
CAB_SEAT_TOP = 24.0
WHEEL = (47.5, 48.0)


def _cab(marks: tuple[Mark, ...] = (), torso: float = 97, head: float = 91) -> Pose:
    hip = (CAB_SEAT_X - 1.0, CAB_SEAT_TOP + TORSO_W / 2 - 0.2)
    return Pose(
        hip=hip,
        torso=torso,
        head=head,
        near_leg=foot_at(hip[0] + 22, foot=8),
        far_leg=foot_at(hip[0] + 23.5, foot=8),
        near_arm=hand_at(WHEEL[0] - 0.8, WHEEL[1] + 4.5),
        far_arm=hand_at(WHEEL[0] + 0.6, WHEEL[1] + 4.0),
        props=(
            FLOOR,
            Prop("cab_seat", CAB_SEAT_X, CAB_SEAT_TOP),
            Prop("dash", WHEEL[0] + 10, 47),
            Prop("wheel", WHEEL[0], WHEEL[1], angle=62),
        ),
        marks=marks,
        centre=False,
    )


def _cab_hip() -> Point:
    return (CAB_SEAT_X - 1.0, CAB_SEAT_TOP + TORSO_W / 2 - 0.2)


def _cab_parts(torso: float = 97, head: float = 91) -> tuple[Point, Point, Point]:
    hip = _cab_hip()
    return hip, shoulder_of(hip, torso), head_of(hip, torso, head)


def _drive_tall() -> Pose:
    _hip, _shoulder, head = _cab_parts(95, 90)
    return _cab(torso=95, head=90, marks=(arrow(head[0], head[1] + 8, head[0], head[1] + 17),))


def _drive_shoulders() -> Pose:
    _hip, shoulder, _head = _cab_parts()
    x = shoulder[0] - 9.0
    return _cab(marks=(arrow(x, shoulder[1] + 10, x, shoulder[1] + 1),))


def _drive_breathe() -> Pose:
    hip, shoulder, _head = _cab_parts()
    belly_front = ((hip[0] + shoulder[0]) / 2 + TORSO_W / 2, hip[1] + 9.0)
    x, y = belly_front
    return _cab(marks=(darrow(x + 2.0, y, x + 11.0, y),))


def _drive_shift() -> Pose:
    hip = _cab_hip()
    return _cab(marks=(arc((hip[0] + 1, hip[1] + 3), 12.5, 218, 322, both=True),))


def _drive_squeeze() -> Pose:
    hip = _cab_hip()
    return _cab(marks=(spot((hip[0] - 1.0, hip[1] - 0.5), 5.2),))


def _drive_head_back() -> Pose:
    _hip, _shoulder, head = _cab_parts(97, 92)
    return _cab(head=92, marks=(arrow(head[0] + 17, head[1] + 2, head[0] + 9, head[1] + 2),))


def _drive_back_press() -> Pose:
    hip = _cab_hip()
    y = hip[1] + 7.5
    return _cab(marks=(spot((hip[0] - 2.5, y), 4.2), arrow(hip[0] + 14, y, hip[0] + 6, y)))


def _cab_setup() -> Pose:
    return _cab(marks=(darrow(CAB_SEAT_X - 9, G + 7.5, CAB_SEAT_X + 9, G + 7.5),))


POSES: Mapping[str, Pose] = {
    "half_kneel": _half_kneel(),
    "standing_lunge": _lunge(reach=False),
    "lunge_reach": _lunge(reach=True),
    "foot_on_chair": _foot_on_chair(),
    "quad_hold": _quad_hold(),
    "seated_edge": _seated_edge(),
    "knee_hug": _knee_hug(),
    "bridge": _bridge(),
    "constructive_rest": _constructive_rest(),
    "figure_four": _figure_four(),
    "seated_pelvic_tilt": _seated_pelvic_tilt(),
    "standing_pelvic_tilt": _standing_pelvic_tilt(),
    "back_extension": _back_extension(),
    "doorway": _doorway(),
    "chin_tuck": _chin_tuck(),
    "desk_seated": _desk_seated(),
    "stand_desk": _stand_desk(),
    "sit_to_stand": _sit_to_stand(),
    "seated_march": _seated_march(),
    "march": _march(),
    "walk": _walk(),
    "calf_raise": _calf_raise(),
    "truck_walk": _truck_walk(),
    "truck_lunge": _truck_lunge(),
    "truck_step_stretch": _truck_step_stretch(),
    "truck_step_up": _truck_step_up(),
    "cab_setup": _cab_setup(),
    "drive_tall": _drive_tall(),
    "drive_shoulders": _drive_shoulders(),
    "drive_breathe": _drive_breathe(),
    "drive_shift": _drive_shift(),
    "drive_squeeze": _drive_squeeze(),
    "drive_head_back": _drive_head_back(),
    "drive_back_press": _drive_back_press(),
}
