//! `into_owned` for the borrowed message types: parsed messages borrow from the request body
//! (no copy on the hot path); a caller that keeps one beyond the body detaches it.

use std::borrow::Cow;

use crate::xml::Fields;

pub(crate) trait Own {
    type Owned;
    fn own(self) -> Self::Owned;
}

impl Own for Cow<'_, str> {
    type Owned = Cow<'static, str>;
    fn own(self) -> Cow<'static, str> {
        Cow::Owned(self.into_owned())
    }
}

impl<T: Own> Own for Option<T> {
    type Owned = Option<T::Owned>;
    fn own(self) -> Self::Owned {
        self.map(Own::own)
    }
}

impl<T: Own> Own for Vec<T> {
    type Owned = Vec<T::Owned>;
    fn own(self) -> Self::Owned {
        self.into_iter().map(Own::own).collect()
    }
}

impl Own for Fields<'_> {
    type Owned = Fields<'static>;
    fn own(self) -> Fields<'static> {
        self.into_owned()
    }
}

macro_rules! own_copy {
    ($($t:ty),*) => {
        $(impl Own for $t {
            type Owned = $t;
            fn own(self) -> $t {
                self
            }
        })*
    };
}
own_copy!(u32, u64, i64, f64);

/// Implements `into_owned` for a struct with a lifetime by owning each listed field.
macro_rules! owned_struct {
    ($name:ident { $($field:ident),* $(,)? }) => {
        impl $name<'_> {
            /// Detaches the value from the body it was parsed from.
            pub fn into_owned(self) -> $name<'static> {
                $name { $($field: $crate::message::owned::Own::own(self.$field)),* }
            }
        }

        impl $crate::message::owned::Own for $name<'_> {
            type Owned = $name<'static>;
            fn own(self) -> $name<'static> {
                self.into_owned()
            }
        }
    };
}
pub(crate) use owned_struct;
