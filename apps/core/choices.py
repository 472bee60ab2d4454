"""Choice sets: classes of constants, grouped into active and terminal states."""


class ChoiceSet:
    """A set of named values with labels; subclasses list CHOICES as (value, label)."""

    CHOICES: tuple[tuple[str, str], ...] = ()

    @classmethod
    def values(cls) -> list[str]:
        """All valid values, in declaration order."""
        return [value for value, _ in cls.CHOICES]


class Role(ChoiceSet):
    """A member's role on a cluster."""

    ADMIN = "admin"
    DEVELOPER = "developer"
    GUEST = "guest"
    CHOICES = ((ADMIN, "Admin"), (DEVELOPER, "Developer"), (GUEST, "Guest"))


class Action(ChoiceSet):
    """What a user wants to do to an object; restrict() filters by it."""

    VIEW = "view"
    SCALE = "scale"  # scale pools, cancel jobs, re-run initialization
    CHANGE = "change"  # create/update/delete the cluster's own objects
    # Run one pool: its template order, its scaling schedules and policies (cluster admins, pool admins).
    OPERATE = "operate"
    CHOICES = ((VIEW, "View"), (SCALE, "Scale"), (CHANGE, "Change"), (OPERATE, "Operate"))

    # Which cluster roles allow which action.
    ROLES = {
        VIEW: (Role.ADMIN, Role.DEVELOPER, Role.GUEST),
        SCALE: (Role.ADMIN, Role.DEVELOPER),
        CHANGE: (Role.ADMIN,),
        OPERATE: (Role.ADMIN,),
    }
    # What a pool administrator may do to their own pool and what belongs to it (nothing else of the cluster).
    POOL_ADMIN = (VIEW, SCALE, OPERATE)
