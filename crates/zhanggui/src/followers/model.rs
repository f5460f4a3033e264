//! A follower as the message log tells it, and how each logged message changes that picture.
//!
//! Every rule is a merge by timestamp (earliest first-seen, newest interaction, newest
//! follow/unfollow decides the state, earliest QR scene is the channel, newest location), so
//! applying the same message twice, or messages out of order, gives the same follower. That
//! is what lets the projector re-read the log freely and rebuild it from scratch.

use crate::platform::clock::Millis;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Follower {
    pub merchant_id: i64,
    pub account_id: i64,
    pub openid: String,
    pub first_seen_at: Millis,
    pub last_interaction_at: Millis,
    pub subscribed: bool,
    pub subscription_changed_at: Option<Millis>,
    pub subscribed_at: Option<Millis>,
    pub unsubscribed_at: Option<Millis>,
    pub channel: Option<String>,
    pub channel_at: Option<Millis>,
    pub last_latitude: Option<f64>,
    pub last_longitude: Option<f64>,
    pub last_location_at: Option<Millis>,
}

/// What one logged message says about its sender.
#[derive(Clone, Debug, PartialEq)]
pub enum Observation {
    /// Any message or event from the follower.
    Interaction,
    /// A follow; `scene` is the parametric QR code's scene when a code brought them.
    Follow {
        scene: Option<String>,
    },
    Unfollow,
    /// A reported or sent location.
    Location {
        latitude: f64,
        longitude: f64,
    },
}

impl Follower {
    pub fn new(merchant_id: i64, account_id: i64, openid: &str, at: Millis) -> Follower {
        Follower {
            merchant_id,
            account_id,
            openid: openid.to_string(),
            first_seen_at: at,
            last_interaction_at: at,
            ..Follower::default()
        }
    }

    /// Folds one observation made at `at` into the follower.
    pub fn merge(&mut self, at: Millis, obs: &Observation) {
        self.first_seen_at = self.first_seen_at.min(at);
        self.last_interaction_at = self.last_interaction_at.max(at);
        match obs {
            Observation::Interaction => {}
            Observation::Follow { scene } => {
                self.set_subscription(at, true);
                self.subscribed_at = Some(self.subscribed_at.map_or(at, |t| t.max(at)));
                if let Some(scene) = scene
                    && self.channel_at.is_none_or(|t| at < t)
                {
                    self.channel = Some(scene.clone());
                    self.channel_at = Some(at);
                }
            }
            Observation::Unfollow => {
                self.set_subscription(at, false);
                self.unsubscribed_at = Some(self.unsubscribed_at.map_or(at, |t| t.max(at)));
            }
            Observation::Location {
                latitude,
                longitude,
            } => {
                if self.last_location_at.is_none_or(|t| at >= t) {
                    self.last_latitude = Some(*latitude);
                    self.last_longitude = Some(*longitude);
                    self.last_location_at = Some(at);
                }
            }
        }
    }

    /// The newest follow or unfollow decides; at the same instant a follow wins (WeChat
    /// sends an unfollow and a re-follow a second apart at the earliest).
    fn set_subscription(&mut self, at: Millis, subscribed: bool) {
        let newer = match self.subscription_changed_at {
            None => true,
            Some(t) => at > t || (at == t && subscribed),
        };
        if newer {
            self.subscribed = subscribed;
            self.subscription_changed_at = Some(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs() -> Vec<(Millis, Observation)> {
        vec![
            (
                1_000,
                Observation::Follow {
                    scene: Some("poster".into()),
                },
            ),
            (2_000, Observation::Interaction),
            (
                3_000,
                Observation::Location {
                    latitude: 31.2,
                    longitude: 121.5,
                },
            ),
            (4_000, Observation::Unfollow),
            (
                5_000,
                Observation::Follow {
                    scene: Some("table".into()),
                },
            ),
            (
                6_000,
                Observation::Location {
                    latitude: 39.9,
                    longitude: 116.4,
                },
            ),
        ]
    }

    fn fold(order: &[(Millis, Observation)]) -> Follower {
        let mut f = Follower::new(1, 2, "o1", order[0].0);
        for (at, o) in order {
            f.merge(*at, o);
        }
        f
    }

    #[test]
    fn a_follower_history_folds_into_its_state() {
        let f = fold(&obs());
        assert!(f.subscribed);
        assert_eq!(f.first_seen_at, 1_000);
        assert_eq!(f.last_interaction_at, 6_000);
        assert_eq!(
            f.channel.as_deref(),
            Some("poster"),
            "the first QR code is the channel"
        );
        assert_eq!(f.unsubscribed_at, Some(4_000));
        assert_eq!(f.subscribed_at, Some(5_000));
        assert_eq!(f.last_latitude, Some(39.9));
    }

    #[test]
    fn order_and_repetition_do_not_matter() {
        let expected = fold(&obs());
        let mut reversed = obs();
        reversed.reverse();
        assert_eq!(fold(&reversed), expected);
        let mut twice = obs();
        twice.extend(obs());
        assert_eq!(fold(&twice), expected);
    }

    #[test]
    fn the_newest_of_follow_and_unfollow_decides() {
        let f = fold(&[
            (1, Observation::Follow { scene: None }),
            (2, Observation::Unfollow),
        ]);
        assert!(!f.subscribed);
        let f = fold(&[
            (2, Observation::Unfollow),
            (1, Observation::Follow { scene: None }),
        ]);
        assert!(!f.subscribed);
    }
}
