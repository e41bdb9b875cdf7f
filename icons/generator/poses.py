"""Pose data for every exercise picture, keyed by the `pose` id used in exercises.toml.

Most poses are side views of a figure facing right. Such a figure shows its RIGHT side, so its
near limbs are its right ones (render.py explains the side rules and `limb_side`); the working
limb of a per-side exercise is drawn near and highlighted, and the generator mirrors the
picture for the left side. A few poses are front views (the figure faces the viewer, its left
limbs on the viewer's right) or a figure lying on the floor seen from above. See render.py for
the units and angle convention (degrees counter-clockwise from +x; the floor at y = 10; a
standing figure is ~70 units tall).

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
    Limb,
    Mark,
    Point,
    Pose,
    Prop,
    along,
    ankle_on_ground,
)

G = GROUND_Y
STAND_HIP_Y = 44.4  # hip height standing with soft knees
SEAT_TOP = 28.0  # top of a chair seat: about knee height, so the hips sit a little higher
SEAT_HIP_Y = SEAT_TOP + TORSO_W / 2 - 0.2
CHAIR_BACK_TOP = SEAT_TOP + CHAIR_BACK_H
FLOOR = Prop("floor")
NEAR_LEG: frozenset[Limb] = frozenset({"near_leg"})


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


def arc(c: Point, r: float, a0: float, a1: float, both: bool = False,
        squash: float = 1.0) -> Mark:
    return Mark("arc", (c,), r=r, a0=a0, a1=a1, both=both, squash=squash)


def spot(c: Point, r: float) -> Mark:
    return Mark("spot", (c,), r=r)


def shoulder_of(hip: Point, torso: float) -> Point:
    return along(hip, TORSO, torso)


def head_of(hip: Point, torso: float, head: float | None = None) -> Point:
    return along(shoulder_of(hip, torso), NECK + HEAD_R, torso if head is None else head)


def _hands_on_hips(hip: Point) -> tuple[Arm, Arm]:
    return hand_at(hip[0] + 1.5, hip[1] + 3.5), hand_at(hip[0] + 2.5, hip[1] + 4.0)


def _tuck(hip: Point) -> Mark:
    """The pelvis-tuck cue: a curved arrow behind the hip, rolling the tailbone under."""
    return arc(hip, 9.5, 190, 245)


# ---------------------------------------------------------------- hip flexors, floor and home


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
        marks=(_tuck(hip),),
        highlight=NEAR_LEG,
    )


def _side_lying_quad() -> Pose:
    # Lying on the side on a mat, seen from above: head to the right, the lower arm bent in
    # front of the chest; the top (near) knee bends back and the top hand holds that ankle
    # behind the buttock. The lower leg rests with its knee a little bent.
    hip = (38.0, 46.0)
    knee = along(hip, THIGH, 176)
    ankle = along(knee, 16.0, 22)
    return Pose(
        hip=hip,
        torso=0,
        head=4,
        near_leg=Leg(thigh=176, shin=22, foot=112),
        far_leg=Leg(thigh=206, shin=150, foot=245),
        near_arm=Arm(to=(ankle[0] + 1.2, ankle[1] + 1.0), bend=1, scale=(1.08, 1.08)),
        far_arm=Arm(upper=-40, lower=12),
        props=(Prop("mat_top", 5, 29, w=90, h=36),),
        highlight=NEAR_LEG,
        centre=False,
        shift_x=0.0,
    )


BED_TOP = 32.0


def _thomas_bed() -> Pose:
    # On the back at the edge of a bed: the far knee hugged to the chest, the near (working)
    # leg hanging over the edge so the front of that hip can lengthen.
    hip = (58.0, BED_TOP + TORSO_W / 2 - 0.6)
    far_knee = along(hip, THIGH, 118)
    return Pose(
        hip=hip,
        torso=178,
        head=174,
        near_leg=Leg(thigh=-22, shin=-84, foot=-8),
        far_leg=Leg(thigh=118, shin=-14, foot=-40),
        near_arm=hand_at(far_knee[0] + 2.5, far_knee[1] - 2.0, bend=-1),
        far_arm=hand_at(far_knee[0] + 3.5, far_knee[1] - 3.0, bend=-1),
        props=(FLOOR, Prop("bed", 8, BED_TOP, w=hip[0] - 5.0)),
        marks=(arc(hip, 10.5, -10, -60),),
        highlight=NEAR_LEG,
    )


def _knee_hug() -> Pose:
    # On the back on the floor, one knee hugged to the chest (the near, working leg), the
    # other leg resting long.
    hip = (52.0, G + TORSO_W / 2)
    near_knee = along(hip, THIGH, 122)
    return Pose(
        hip=hip,
        torso=177,
        head=170,
        near_leg=Leg(thigh=122, shin=-12, foot=-40),
        far_leg=Leg(thigh=0, shin=-2.5, foot=78),
        near_arm=hand_at(near_knee[0] + 3.0, near_knee[1] - 2.0, bend=-1),
        far_arm=hand_at(near_knee[0] + 4.0, near_knee[1] - 3.0, bend=-1),
        props=(FLOOR, Prop("mat", 12, w=80)),
        highlight=NEAR_LEG,
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


def _press_up() -> Pose:
    # Face down, hips on the mat, the chest raised on the forearms (elbows under shoulders).
    hip = (36.0, G + TORSO_W / 2)
    torso = 27.0
    shoulder = shoulder_of(hip, torso)
    elbow_x = shoulder[0] + 0.5
    return Pose(
        hip=hip,
        torso=torso,
        head=32,
        near_leg=Leg(thigh=180, shin=180, foot=232, scale=(1.0, 1.0, 0.6)),
        far_leg=Leg(thigh=179.5, shin=179.5, foot=232, scale=(1.0, 1.0, 0.6)),
        near_arm=hand_at(elbow_x + 11.0, G + 2.6, bend=-1),
        far_arm=hand_at(elbow_x + 12.0, G + 2.6, bend=-1),
        props=(FLOOR, Prop("mat", 4, w=84)),
        marks=(arrow(shoulder[0] - 7, shoulder[1] + 7, shoulder[0] - 7, shoulder[1] + 18),),
    )


def _knee_rolls() -> Pose:
    # On the back, seen from above: arms out to the sides, both bent knees lowered to one side
    # together (a double arrow: then to the other side).
    hip = (40.0, 51.0)
    return Pose(
        hip=hip,
        torso=0,
        view="front",
        near_leg=Leg(thigh=222, shin=132, foot=180, scale=(0.95, 0.95, 0.7)),
        far_leg=Leg(thigh=210, shin=140, foot=180, scale=(0.95, 0.95, 0.7)),
        near_arm=Arm(upper=-80, lower=-80, scale=(0.95, 0.95)),
        far_arm=Arm(upper=80, lower=80, scale=(0.95, 0.95)),
        props=(Prop("mat_top", 4, 22, w=92, h=58),),
        marks=(arc((hip[0] - 16, hip[1]), 15, 205, 150, both=True),),
        centre=False,
    )


# ---------------------------------------------------------------- seated


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
    highlight: frozenset[Limb] = frozenset(),
    seat: str = "chair",
    seat_dx: float = 4.2,
) -> Pose:
    """A figure sitting near the front of a chair (or, `seat="cab"`, a parked cab's seat)."""
    hip = (hip_x, SEAT_HIP_Y)
    if seat == "cab":
        seat_props: tuple[Prop, ...] = (
            Prop("cab_seat", hip_x + seat_dx, SEAT_TOP),
            Prop("dash", hip_x + 44, 52),
            Prop("wheel", hip_x + 36, 54, angle=62),
        )
    else:
        seat_props = (Prop("chair", hip_x + seat_dx, SEAT_TOP),)
    return Pose(
        hip=hip,
        torso=torso,
        head=head,
        near_leg=near_leg or foot_at(hip_x + 17),
        far_leg=far_leg or foot_at(hip_x + 18.5),
        near_arm=near_arm or hand_at(hip_x + 11, hip[1] + 4.5),
        far_arm=far_arm or hand_at(hip_x + 12.5, hip[1] + 5),
        props=(FLOOR, *seat_props, *props),
        marks=marks,
        highlight=highlight,
        centre=seat != "cab",
        shift_x=0.0 if seat != "cab" else -6.0,
    )


def _seated_edge() -> Pose:
    # Sitting sideways on the chair's front corner: the near (working) leg hangs off the
    # side and slides back, knee pointing down, on the ball of the foot; the other foot is
    # flat in front. Seen from the side, the chair stands behind the hanging leg.
    chair_x = 38.0
    hip = (chair_x + 6.5, SEAT_HIP_Y + 0.3)
    return Pose(
        hip=hip,
        torso=93,
        near_leg=Leg(to=ankle_on_ground(hip[0] - 25.0, -48), foot=-48, bend=1),
        far_leg=foot_at(hip[0] + 17),
        near_arm=hand_at(hip[0] - 4, SEAT_TOP + 1.5, bend=1),
        far_arm=hand_at(hip[0] + 10, hip[1] + 4),
        props=(FLOOR, Prop("chair", chair_x, SEAT_TOP)),
        marks=(_tuck(hip),),
        highlight=NEAR_LEG,
    )


def _figure_four(seat: str = "chair") -> Pose:
    hip_x = 42.0
    hip = (hip_x, SEAT_HIP_Y)
    far = foot_at(hip_x + 19)
    # The crossed shin lies across the far knee; its thigh points at the viewer (foreshortened).
    far_knee_y = hip[1] - 0.5
    near = Leg(to=(hip_x + 19.5, far_knee_y + 5.2), bend=1, foot=-10, scale=(0.62, 0.62, 0.8))
    return _seated(
        hip_x=hip_x,
        torso=74,
        head=80,
        near_leg=near,
        far_leg=far,
        near_arm=hand_at(hip_x + 13.5, hip[1] + 7.5),
        far_arm=hand_at(hip_x + 18, hip[1] + 6.5),
        highlight=NEAR_LEG,
        seat=seat,
    )


def _seated_hamstring() -> Pose:
    # On the front edge of the chair, the near (working) leg straight, heel down, toes up;
    # leaning forward from the hips with a long back.
    hip_x = 42.0
    hip = (hip_x, SEAT_HIP_Y)
    return _seated(
        hip_x=hip_x,
        torso=68,
        head=62,
        near_leg=Leg(to=ankle_on_ground(hip_x + 28.5, 62), foot=62, bend=1),
        far_leg=foot_at(hip_x + 15.5),
        near_arm=hand_at(hip_x + 17, hip[1] + 3.0),
        far_arm=hand_at(hip_x + 18.5, hip[1] + 3.5),
        highlight=NEAR_LEG,
        seat_dx=7.0,
        marks=(arc(hip, 36, 84, 64),),
    )


def _seated_knee_chest() -> Pose:
    hip_x = 44.0
    hip = (hip_x, SEAT_HIP_Y)
    knee = along(hip, THIGH, 48)
    return _seated(
        hip_x=hip_x,
        torso=94,
        near_leg=Leg(thigh=48, shin=-75, foot=-25),
        near_arm=hand_at(knee[0] + 1.0, knee[1] - 3.5, bend=-1),
        far_arm=hand_at(knee[0] + 2.0, knee[1] - 4.5, bend=-1),
        highlight=NEAR_LEG,
    )


def _seated_chest(seat: str = "chair") -> Pose:
    # Sitting tall away from the backrest, arms out to the sides and a little back, chest up.
    hip_x = 44.0
    hip = (hip_x, SEAT_HIP_Y)
    shoulder = shoulder_of(hip, 88)
    return _seated(
        hip_x=hip_x,
        torso=88,
        head=92,
        near_arm=Arm(upper=-158, lower=-172, scale=(0.9, 0.9)),
        far_arm=Arm(upper=-150, lower=-165, scale=(0.9, 0.9)),
        marks=(arrow(shoulder[0] + 8, shoulder[1] - 6, shoulder[0] + 15, shoulder[1] - 2),),
        seat=seat,
        seat_dx=5.5,
    )


def _seated_twist(seat: str = "chair") -> Pose:
    # Seen from the front: sitting tall, arms crossed with the hands on the shoulders; a
    # curved double arrow round the chest: turn the upper body to one side, then the other.
    hip = (50.0, SEAT_HIP_Y)
    shoulder = shoulder_of(hip, 90)
    # Thighs point at the viewer (short), knees a little apart, shins down to the floor.
    near_leg = Leg(to=ankle_on_ground(hip[0] + 6.0, 0), foot=0, bend=1, scale=(0.5, 1.0, 0.5))
    far_leg = Leg(to=ankle_on_ground(hip[0] - 6.0, 180), foot=180, bend=-1,
                  scale=(0.5, 1.0, 0.5))
    if seat == "cab":
        seat_prop = Prop("seat_front", hip[0], SEAT_TOP, w=24, h=30)
    else:
        seat_prop = Prop("seat_front", hip[0], SEAT_TOP, w=22)
    return Pose(
        hip=hip,
        torso=90,
        view="front",
        near_leg=near_leg,
        far_leg=far_leg,
        near_arm=hand_at(shoulder[0] - 4.5, shoulder[1] - 9.5, bend=-1),
        far_arm=hand_at(shoulder[0] + 4.5, shoulder[1] - 11.0, bend=1),
        props=(FLOOR, seat_prop),
        marks=(arc((shoulder[0], shoulder[1] - 9), 15, 200, 340, both=True, squash=0.35),),
    )


def _ankle_pumps(seat: str = "chair") -> Pose:
    # Seated, heels down and toes lifted (then heels up, toes down): arcs at the feet.
    hip_x = 44.0
    ankle_x = hip_x + 18
    return _seated(
        hip_x=hip_x,
        near_leg=Leg(to=ankle_on_ground(ankle_x, 28), foot=28, bend=1),
        far_leg=Leg(to=ankle_on_ground(ankle_x + 1.5, 28), foot=28, bend=1),
        marks=(arc((ankle_x, G + ANKLE_H), 10, 10, 70, both=True),),
        seat=seat,
    )


def _seated_pelvic_tilt(seat: str = "chair") -> Pose:
    hip = (44.0, SEAT_HIP_Y)
    return _seated(marks=(arc(hip, 9.5, 150, 235, both=True),), seat=seat)


def _chin_tuck() -> Pose:
    hip = (44.0, SEAT_HIP_Y)
    head = head_of(hip, 92, 94)
    return _seated(
        head=94,
        marks=(arrow(head[0] + 17, head[1] - 1, head[0] + 9, head[1] - 1),),
    )


def _desk_seated() -> Pose:
    # Hips back in the chair (knees a little lower than the hips), elbows by the sides with
    # the forearms level on the desk, the top of the screen at eye level.
    hip_x = 36.0
    hip = (hip_x, SEAT_HIP_Y)
    torso = 95.0
    shoulder = shoulder_of(hip, torso)
    elbow = along(shoulder, 12.0, -96)
    desk_top = elbow[1] - 0.8
    eye_y = head_of(hip, torso, 91)[1]
    return _seated(
        hip_x=hip_x,
        torso=torso,
        head=91,
        near_leg=foot_at(hip_x + 21),
        far_leg=foot_at(hip_x + 22.5),
        near_arm=Arm(upper=-96, lower=2),
        far_arm=Arm(upper=-93, lower=4),
        props=(Prop("desk", hip_x + 16, desk_top, w=30, h=eye_y - desk_top - 3.5),),
        marks=(arrow(hip[0] - 13.5, hip[1] + 9, hip[0] - 8.5, hip[1] + 9),),
        seat_dx=5.0,
    )


def _sit_to_stand() -> Pose:
    hip = (47.0, 39.0)
    return Pose(
        hip=hip,
        torso=58,
        head=70,
        near_leg=foot_at(hip[0] + 7),
        far_leg=foot_at(hip[0] + 8.5),
        near_arm=Arm(-40, -10),
        far_arm=Arm(-35, -5),
        props=(FLOOR, Prop("chair", hip[0] - 5, SEAT_TOP)),
        marks=(arrow(hip[0] - 16, hip[1] - 2, hip[0] - 16, hip[1] + 12),),
    )


def _seated_march() -> Pose:
    hip_x = 44.0
    lifted = Leg(to=(hip_x + 18.5, ANKLE_H + G + 8), bend=1, foot=-8)
    knee_top = (hip_x + 16, SEAT_HIP_Y + 8)
    return _seated(
        hip_x=hip_x,
        near_leg=lifted,
        marks=(arrow(knee_top[0] + 10, knee_top[1] - 6, knee_top[0] + 10, knee_top[1] + 4),),
    )


# ---------------------------------------------------------------- standing


def _lunge() -> Pose:
    # A short lunge: back heel up, both knees a little bent, upright, pelvis tucked.
    hip = (50.0, 41.8)
    near_arm, far_arm = _hands_on_hips(hip)
    return Pose(
        hip=hip,
        torso=91,
        near_leg=foot_at(hip[0] - 14, foot=-38),
        far_leg=foot_at(hip[0] + 11),
        near_arm=near_arm,
        far_arm=far_arm,
        props=(FLOOR,),
        marks=(_tuck(hip),),
        highlight=NEAR_LEG,
    )


def _lunge_reach() -> Pose:
    # Seen from the front (the side lean shows only from there): the back leg (near, the
    # figure's left) straight, the front leg's knee bent toward the viewer; the arm on the
    # back-leg side reaches up and over, the upper body leans toward the front-leg side.
    hip = (50.0, 42.5)
    return Pose(
        hip=hip,
        torso=101,
        head=98,
        view="front",
        near_leg=Leg(to=ankle_on_ground(hip[0] + 9.0, 0), foot=0, bend=1),
        far_leg=Leg(to=ankle_on_ground(hip[0] - 7.0, 180), foot=180, bend=-1,
                    scale=(0.88, 1.0, 1.0)),
        near_arm=Arm(upper=104, lower=138, scale=(1.0, 1.0)),
        far_arm=Arm(upper=-108, lower=-100),
        props=(FLOOR,),
        marks=(arc((hip[0] + 2, hip[1] + 20), 26, 62, 100),),
        highlight=frozenset({"near_leg", "near_arm"}),
    )


def _foot_on_chair() -> Pose:
    # Facing a chair with the far foot on its seat; the near (working) leg stands straight,
    # so the front of that hip stretches as the pelvis tucks and the weight shifts forward.
    hip = (44.0, 44.2)
    chair_x = hip[0] + 19
    return Pose(
        hip=hip,
        torso=90,
        near_leg=foot_at(hip[0] - 2.5),
        far_leg=foot_at(chair_x - 5, ground=SEAT_TOP),
        near_arm=hand_at(hip[0] + 12.5, hip[1] + 4),
        far_arm=hand_at(hip[0] + 14, hip[1] + 4.5),
        props=(FLOOR, Prop("chair", chair_x, SEAT_TOP, angle=1)),
        marks=(_tuck(hip),),
        highlight=NEAR_LEG,
    )


def _quad_hold() -> Pose:
    hip = (46.0, STAND_HIP_Y)
    knee = along(hip, THIGH, -100)
    ankle = along(knee, 16, 112)
    chair_x = hip[0] + 20
    return Pose(
        hip=hip,
        torso=90,
        near_leg=Leg(thigh=-100, shin=112, foot=172),
        far_leg=foot_at(hip[0] + 0.5),
        near_arm=hand_at(ankle[0] + 0.5, ankle[1] + 2.0),
        far_arm=hand_at(chair_x - 8.5, CHAIR_BACK_TOP),
        props=(FLOOR, Prop("chair", chair_x, SEAT_TOP)),
        highlight=NEAR_LEG,
    )


DESK_TOP = 40.0


def _split_rock() -> Pose:
    # Split stance holding a desk or worktop: rock forward over the bent front knee, the back
    # (near, working) leg long.
    hip = (47.0, 42.0)
    return Pose(
        hip=hip,
        torso=86,
        near_leg=foot_at(hip[0] - 15, foot=-22),
        far_leg=foot_at(hip[0] + 9),
        near_arm=hand_at(hip[0] + 19.0, DESK_TOP + 1.6),
        far_arm=hand_at(hip[0] + 20.5, DESK_TOP + 1.8),
        props=(FLOOR, Prop("desk", hip[0] + 17, DESK_TOP, w=30)),
        marks=(darrow(hip[0] - 8, hip[1] + 16, hip[0] + 4, hip[1] + 16), _tuck(hip)),
        highlight=NEAR_LEG,
    )


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


def _back_extension(props: tuple[Prop, ...] = (FLOOR,), centre: bool = True,
                    hip_x: float = 52.0) -> Pose:
    hip = (hip_x, STAND_HIP_Y - 0.3)
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
        props=props,
        marks=(arc(hip, head[1] - hip[1] + 9, 88, 110),),
        centre=centre,
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


# ---------------------------------------------------------------- drivers, beside the vehicle

TRUCK_X = 80.0
BUMPER_Y = 22.0


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
        props=(FLOOR, Prop("truck_front", TRUCK_X, BUMPER_Y)),
        highlight=NEAR_LEG,
        centre=False,
    )


def _truck_quad() -> Pose:
    hip = (60.0, STAND_HIP_Y)
    knee = along(hip, THIGH, -100)
    ankle = along(knee, 16, 112)
    return Pose(
        hip=hip,
        torso=90,
        near_leg=Leg(thigh=-100, shin=112, foot=172),
        far_leg=foot_at(hip[0] + 0.5),
        near_arm=hand_at(ankle[0] + 0.5, ankle[1] + 2.0),
        far_arm=hand_at(TRUCK_X - 0.5, 52),
        props=(FLOOR, Prop("truck_front", TRUCK_X, BUMPER_Y)),
        highlight=NEAR_LEG,
        centre=False,
    )


def _truck_calf() -> Pose:
    hip = (62.0, STAND_HIP_Y + 4.0)
    heel_x = hip[0] - 2
    return Pose(
        hip=hip,
        torso=90,
        near_leg=foot_at(heel_x + 1, foot=-48),
        far_leg=foot_at(heel_x + 2.5, foot=-48),
        near_arm=hand_at(TRUCK_X - 0.5, 56),
        far_arm=hand_at(TRUCK_X - 0.5, 57),
        props=(FLOOR, Prop("truck_front", TRUCK_X, BUMPER_Y)),
        marks=(arrow(heel_x - 9, G + 3, heel_x - 9, G + 14),),
        centre=False,
    )


def _truck_back_extension() -> Pose:
    return _back_extension(props=(FLOOR, Prop("truck_front", TRUCK_X, BUMPER_Y)),
                           centre=False, hip_x=50.0)


KERB_H = 4.5


def _kerb_stretch() -> Pose:
    # The far foot up on a kerb or low step in front; the near (working) leg long behind,
    # pelvis tucked, easing forward.
    hip = (44.0, 44.0)
    kerb_x = hip[0] + 10
    return Pose(
        hip=hip,
        torso=91,
        near_leg=foot_at(hip[0] - 12, foot=-30),
        far_leg=foot_at(kerb_x + 4, ground=G + KERB_H),
        near_arm=_hands_on_hips(hip)[0],
        far_arm=_hands_on_hips(hip)[1],
        props=(FLOOR, Prop("kerb", kerb_x, w=80, h=KERB_H)),
        marks=(_tuck(hip), arrow(hip[0] + 10, hip[1] + 17, hip[0] + 19, hip[1] + 17)),
        highlight=NEAR_LEG,
    )


# ---------------------------------------------------------------- in the cab

CAB_SEAT_X = 30.0
CAB_SEAT_TOP = 24.0
WHEEL = (47.5, 48.0)


def _cab_hip() -> Point:
    return (CAB_SEAT_X - 1.0, CAB_SEAT_TOP + TORSO_W / 2 - 0.2)


def _cab(
    marks: tuple[Mark, ...] = (),
    torso: float = 97,
    head: float = 91,
    hands_on_wheel: bool = True,
) -> Pose:
    hip = _cab_hip()
    if hands_on_wheel:
        near_arm = hand_at(WHEEL[0] - 0.8, WHEEL[1] + 4.5)
        far_arm = hand_at(WHEEL[0] + 0.6, WHEEL[1] + 4.0)
    else:
        near_arm = hand_at(hip[0] + 13, hip[1] + 5.5)
        far_arm = hand_at(hip[0] + 14.5, hip[1] + 6)
    return Pose(
        hip=hip,
        torso=torso,
        head=head,
        near_leg=foot_at(hip[0] + 22, foot=8),
        far_leg=foot_at(hip[0] + 23.5, foot=8),
        near_arm=near_arm,
        far_arm=far_arm,
        props=(
            FLOOR,
            Prop("cab_seat", CAB_SEAT_X, CAB_SEAT_TOP),
            Prop("dash", WHEEL[0] + 10, 47),
            Prop("wheel", WHEEL[0], WHEEL[1], angle=62),
        ),
        marks=marks,
        centre=False,
    )


def _cab_parts(torso: float = 97, head: float = 91) -> tuple[Point, Point, Point]:
    hip = _cab_hip()
    return hip, shoulder_of(hip, torso), head_of(hip, torso, head)


# While driving: each picture has the same driver, so each gets its own large cue and an
# accent spot on the body part it is about, to tell them apart at a glance.


def _drive_tall() -> Pose:
    _hip, shoulder, head = _cab_parts(95, 90)
    return _cab(torso=95, head=90, marks=(
        darrow(head[0] - 12, shoulder[1] - 14, head[0] - 12, head[1] + 4),
        arrow(head[0], head[1] + 8, head[0], head[1] + 20),
    ))


def _drive_shoulders() -> Pose:
    _hip, shoulder, _head = _cab_parts()
    return _cab(marks=(
        spot((shoulder[0] + 0.5, shoulder[1] - 1.0), 5.5),
        arrow(shoulder[0] - 11, shoulder[1] + 12, shoulder[0] - 11, shoulder[1] - 2),
    ))


def _drive_breathe() -> Pose:
    hip, shoulder, _head = _cab_parts()
    belly = ((hip[0] + shoulder[0]) / 2 + 1.5, hip[1] + 9.0)
    x, y = belly
    return _cab(marks=(spot(belly, 6.0), darrow(x + 6.0, y - 8, x + 16.0, y - 8)))


def _drive_shift() -> Pose:
    hip = _cab_hip()
    return _cab(marks=(
        spot((hip[0] - 0.5, hip[1] - 1.0), 5.5),
        arc((hip[0] + 1, hip[1] + 3), 14.5, 216, 324, both=True),
    ))


def _drive_squeeze() -> Pose:
    hip = _cab_hip()
    return _cab(marks=(
        spot((hip[0] - 2.0, hip[1] - 0.5), 6.5),
        darrow(hip[0] - 15, hip[1] - 1, hip[0] - 8, hip[1] - 1),
    ))


def _drive_head_back() -> Pose:
    _hip, _shoulder, head = _cab_parts(97, 92)
    return _cab(head=92, marks=(
        spot(head, 6.5),
        arrow(head[0] + 19, head[1] + 1, head[0] + 9, head[1] + 1),
    ))


def _drive_back_press() -> Pose:
    hip = _cab_hip()
    y = hip[1] + 7.5
    return _cab(marks=(spot((hip[0] - 2.5, y), 5.5), arrow(hip[0] + 16, y, hip[0] + 6, y)))


def _cab_setup() -> Pose:
    return _cab(marks=(darrow(CAB_SEAT_X - 9, G + 7.5, CAB_SEAT_X + 9, G + 7.5),))


def _cab_posture_reset() -> Pose:
    hip = _cab_hip()
    _hip, shoulder, _head = _cab_parts(96, 91)
    return _cab(torso=96, hands_on_wheel=False, marks=(
        arrow(hip[0] + 13, hip[1] - 4.5, hip[0] + 4, hip[1] - 4.5),
        arrow(shoulder[0] - 10, shoulder[1] + 10, shoulder[0] - 10, shoulder[1] + 1),
    ))


POSES: Mapping[str, Pose] = {
    "half_kneel": _half_kneel(),
    "side_lying_quad": _side_lying_quad(),
    "thomas_bed": _thomas_bed(),
    "knee_hug": _knee_hug(),
    "bridge": _bridge(),
    "constructive_rest": _constructive_rest(),
    "press_up": _press_up(),
    "knee_rolls": _knee_rolls(),
    "seated_edge": _seated_edge(),
    "figure_four": _figure_four(),
    "seated_hamstring": _seated_hamstring(),
    "seated_knee_chest": _seated_knee_chest(),
    "seated_chest": _seated_chest(),
    "seated_twist": _seated_twist(),
    "ankle_pumps": _ankle_pumps(),
    "seated_pelvic_tilt": _seated_pelvic_tilt(),
    "chin_tuck": _chin_tuck(),
    "desk_seated": _desk_seated(),
    "sit_to_stand": _sit_to_stand(),
    "seated_march": _seated_march(),
    "standing_lunge": _lunge(),
    "lunge_reach": _lunge_reach(),
    "foot_on_chair": _foot_on_chair(),
    "quad_hold": _quad_hold(),
    "split_rock": _split_rock(),
    "standing_pelvic_tilt": _standing_pelvic_tilt(),
    "back_extension": _back_extension(),
    "doorway": _doorway(),
    "stand_desk": _stand_desk(),
    "march": _march(),
    "walk": _walk(),
    "calf_raise": _calf_raise(),
    "truck_walk": _truck_walk(),
    "truck_lunge": _truck_lunge(),
    "truck_quad": _truck_quad(),
    "truck_calf": _truck_calf(),
    "truck_back_extension": _truck_back_extension(),
    "kerb_stretch": _kerb_stretch(),
    "cab_setup": _cab_setup(),
    "cab_posture_reset": _cab_posture_reset(),
    "cab_figure_four": _figure_four(seat="cab"),
    "cab_pelvic_tilt": _seated_pelvic_tilt(seat="cab"),
    "cab_chest": _seated_chest(seat="cab"),
    "cab_twist": _seated_twist(seat="cab"),
    "cab_ankle_pumps": _ankle_pumps(seat="cab"),
    "drive_tall": _drive_tall(),
    "drive_shoulders": _drive_shoulders(),
    "drive_breathe": _drive_breathe(),
    "drive_shift": _drive_shift(),
    "drive_squeeze": _drive_squeeze(),
    "drive_head_back": _drive_head_back(),
    "drive_back_press": _drive_back_press(),
}
