//! Events (`MsgType` `event`), matched on `Event` case-insensitively: WeChat writes some in
//! upper case (`SCAN`, `CLICK`) and some in lower case (`subscribe`).

use std::borrow::Cow;

use super::owned::{Own, owned_struct};
use super::{number, optional_msg_id, required, text};
use crate::xml::{Field, Fields, ParseError, group_value};

#[derive(Debug, Clone, PartialEq)]
pub enum Event<'a> {
    /// A follow. `event_key` is `qrscene_<scene>` after a parametric QR code scan (see
    /// [`Event::qr_scene`]), and other values exist (`last_trade_no_…` after a payment).
    Subscribe {
        event_key: Option<Cow<'a, str>>,
        ticket: Option<Cow<'a, str>>,
    },
    Unsubscribe,
    /// A follower scanned a parametric QR code; `event_key` is the scene, without prefix.
    Scan {
        event_key: Cow<'a, str>,
        ticket: Option<Cow<'a, str>>,
    },
    /// Location reporting (on entering the chat, or every 5 s when the account asks).
    Location {
        latitude: f64,
        longitude: f64,
        precision: f64,
    },
    Click {
        event_key: Cow<'a, str>,
    },
    /// `event_key` is the URL; `menu_id` identifies a conditional menu.
    View {
        event_key: Cow<'a, str>,
        menu_id: Option<Cow<'a, str>>,
    },
    /// `event_key` is the page path.
    ViewMiniProgram {
        event_key: Cow<'a, str>,
        menu_id: Option<Cow<'a, str>>,
    },
    ScanCodePush(ScanCode<'a>),
    ScanCodeWaitMsg(ScanCode<'a>),
    PicSysPhoto(SendPics<'a>),
    PicPhotoOrAlbum(SendPics<'a>),
    PicWeixin(SendPics<'a>),
    LocationSelect(LocationSelect<'a>),
    MassSendJobFinish(MassSendJobFinish<'a>),
    /// `status`: `success`, `failed:user block`, `failed: system failed`, …
    TemplateSendJobFinish {
        msg_id: u64,
        status: Cow<'a, str>,
    },
    SubscribeMsgPopup(Vec<SubscribeMsg<'a>>),
    SubscribeMsgChange(Vec<SubscribeMsg<'a>>),
    SubscribeMsgSent(Vec<SubscribeMsg<'a>>),
    KfCreateSession {
        kf_account: Cow<'a, str>,
    },
    KfCloseSession {
        kf_account: Cow<'a, str>,
    },
    KfSwitchSession {
        from_kf_account: Cow<'a, str>,
        to_kf_account: Cow<'a, str>,
    },
    /// Membership card and coupon events.
    Card(CardEvent<'a>),
    /// Account verification results and reminders.
    AccountVerify(AccountVerify<'a>),
    /// An event this crate does not type: kept whole, never an error.
    Other {
        event: Cow<'a, str>,
        /// Every field but the header and `Event`.
        fields: Fields<'a>,
    },
}

/// `scancode_push` / `scancode_waitmsg`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanCode<'a> {
    pub event_key: Cow<'a, str>,
    pub scan_type: Cow<'a, str>,
    pub scan_result: Cow<'a, str>,
}

/// `pic_sysphoto` / `pic_photo_or_album` / `pic_weixin`.
#[derive(Debug, Clone, PartialEq)]
pub struct SendPics<'a> {
    pub event_key: Cow<'a, str>,
    pub count: Option<u32>,
    /// One per `PicList/item`, even when there is one.
    pub pic_md5_sums: Vec<Cow<'a, str>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LocationSelect<'a> {
    pub event_key: Cow<'a, str>,
    /// `Location_X`.
    pub latitude: f64,
    /// `Location_Y`.
    pub longitude: f64,
    pub scale: u32,
    pub label: Cow<'a, str>,
    /// May be empty.
    pub poiname: Cow<'a, str>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MassSendJobFinish<'a> {
    /// `MsgID`: the `msg_id` the mass send returned.
    pub msg_id: u64,
    /// `send success`, `send fail`, `err(num)`.
    pub status: Cow<'a, str>,
    pub total_count: Option<u32>,
    pub filter_count: Option<u32>,
    pub sent_count: Option<u32>,
    pub error_count: Option<u32>,
    pub copyright_check: Option<CopyrightCheck<'a>>,
    pub article_urls: Vec<ArticleUrl<'a>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CopyrightCheck<'a> {
    pub count: Option<u32>,
    pub check_state: Option<u32>,
    pub results: Vec<CopyrightCheckItem<'a>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CopyrightCheckItem<'a> {
    pub article_idx: Option<u32>,
    pub user_declare_state: Option<u32>,
    pub audit_state: Option<u32>,
    pub original_article_url: Cow<'a, str>,
    pub original_article_type: Option<u32>,
    pub can_reprint: Option<u32>,
    pub need_replace_content: Option<u32>,
    pub need_show_reprint_source: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ArticleUrl<'a> {
    pub article_idx: Option<u32>,
    pub article_url: Cow<'a, str>,
}

/// One `List` entry of the subscription-message events: popup entries carry
/// `SubscribeStatusString` and `PopupScene`, sent entries `MsgID`, `ErrorCode` and
/// `ErrorStatus`.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscribeMsg<'a> {
    pub template_id: Cow<'a, str>,
    pub subscribe_status: Option<Cow<'a, str>>,
    pub popup_scene: Option<u32>,
    pub msg_id: Option<u64>,
    pub error_code: Option<i64>,
    pub error_status: Option<Cow<'a, str>>,
}

/// A card event: the kind is typed, the many kind-specific fields (`IsGiveByFriend`,
/// `OuterStr`, `ConsumeSource`, …) are read from `fields`.
#[derive(Debug, Clone, PartialEq)]
pub struct CardEvent<'a> {
    pub kind: CardEventKind,
    pub fields: Fields<'a>,
}

impl CardEvent<'_> {
    pub fn card_id(&self) -> &str {
        self.fields.get("CardId").unwrap_or("")
    }

    pub fn user_card_code(&self) -> Option<&str> {
        self.fields.get("UserCardCode")
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name)
    }
}

/// Generates a fieldless enum with its wire names, matched case-insensitively.
macro_rules! wire_names {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $wire:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant),*
        }

        impl $name {
            /// The `Event` value as WeChat spells it.
            pub fn wire_name(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),*
                }
            }

            fn from_wire(event: &str) -> Option<Self> {
                $(if event.eq_ignore_ascii_case($wire) {
                    return Some($name::$variant);
                })*
                None
            }
        }
    };
}

wire_names!(
    /// The card events.
    CardEventKind {
        CardPassCheck = "card_pass_check",
        CardNotPassCheck = "card_not_pass_check",
        UserGetCard = "user_get_card",
        UserGiftingCard = "user_gifting_card",
        UserDelCard = "user_del_card",
        UserConsumeCard = "user_consume_card",
        UserPayFromPayCell = "user_pay_from_pay_cell",
        UserViewCard = "user_view_card",
        UserEnterSessionFromCard = "user_enter_session_from_card",
        UpdateMemberCard = "update_member_card",
        CardSkuRemind = "card_sku_remind",
        CardPayOrder = "card_pay_order",
        SubmitMembercardUserInfo = "submit_membercard_user_info",
    }
);

wire_names!(
    /// The account verification events.
    AccountVerifyKind {
        QualificationVerifySuccess = "qualification_verify_success",
        QualificationVerifyFail = "qualification_verify_fail",
        NamingVerifySuccess = "naming_verify_success",
        NamingVerifyFail = "naming_verify_fail",
        AnnualRenew = "annual_renew",
        VerifyExpired = "verify_expired",
    }
);

/// Verification results: `expired_time` on success and reminders, `fail_time` and
/// `fail_reason` on failure.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountVerify<'a> {
    pub kind: AccountVerifyKind,
    pub expired_time: Option<i64>,
    pub fail_time: Option<i64>,
    pub fail_reason: Option<Cow<'a, str>>,
}

owned_struct!(ScanCode {
    event_key,
    scan_type,
    scan_result
});
owned_struct!(SendPics {
    event_key,
    count,
    pic_md5_sums
});
owned_struct!(LocationSelect {
    event_key,
    latitude,
    longitude,
    scale,
    label,
    poiname
});
owned_struct!(MassSendJobFinish {
    msg_id,
    status,
    total_count,
    filter_count,
    sent_count,
    error_count,
    copyright_check,
    article_urls,
});
owned_struct!(CopyrightCheck {
    count,
    check_state,
    results
});
owned_struct!(CopyrightCheckItem {
    article_idx,
    user_declare_state,
    audit_state,
    original_article_url,
    original_article_type,
    can_reprint,
    need_replace_content,
    need_show_reprint_source,
});
owned_struct!(ArticleUrl {
    article_idx,
    article_url
});
owned_struct!(SubscribeMsg {
    template_id,
    subscribe_status,
    popup_scene,
    msg_id,
    error_code,
    error_status
});
owned_struct!(CardEvent { kind, fields });
owned_struct!(AccountVerify {
    kind,
    expired_time,
    fail_time,
    fail_reason
});

impl Own for CardEventKind {
    type Owned = Self;
    fn own(self) -> Self {
        self
    }
}

impl Own for AccountVerifyKind {
    type Owned = Self;
    fn own(self) -> Self {
        self
    }
}

impl<'a> Event<'a> {
    /// The `Event` value, as WeChat spells it for known events, as received otherwise.
    pub fn name(&self) -> &str {
        match self {
            Event::Subscribe { .. } => "subscribe",
            Event::Unsubscribe => "unsubscribe",
            Event::Scan { .. } => "SCAN",
            Event::Location { .. } => "LOCATION",
            Event::Click { .. } => "CLICK",
            Event::View { .. } => "VIEW",
            Event::ViewMiniProgram { .. } => "view_miniprogram",
            Event::ScanCodePush(_) => "scancode_push",
            Event::ScanCodeWaitMsg(_) => "scancode_waitmsg",
            Event::PicSysPhoto(_) => "pic_sysphoto",
            Event::PicPhotoOrAlbum(_) => "pic_photo_or_album",
            Event::PicWeixin(_) => "pic_weixin",
            Event::LocationSelect(_) => "location_select",
            Event::MassSendJobFinish(_) => "MASSSENDJOBFINISH",
            Event::TemplateSendJobFinish { .. } => "TEMPLATESENDJOBFINISH",
            Event::SubscribeMsgPopup(_) => "subscribe_msg_popup_event",
            Event::SubscribeMsgChange(_) => "subscribe_msg_change_event",
            Event::SubscribeMsgSent(_) => "subscribe_msg_sent_event",
            Event::KfCreateSession { .. } => "kf_create_session",
            Event::KfCloseSession { .. } => "kf_close_session",
            Event::KfSwitchSession { .. } => "kf_switch_session",
            Event::Card(c) => c.kind.wire_name(),
            Event::AccountVerify(v) => v.kind.wire_name(),
            Event::Other { event, .. } => event,
        }
    }

    /// `EventKey`, when the event has one.
    pub fn event_key(&self) -> Option<&str> {
        match self {
            Event::Subscribe { event_key, .. } => event_key.as_deref(),
            Event::Scan { event_key, .. }
            | Event::Click { event_key }
            | Event::View { event_key, .. }
            | Event::ViewMiniProgram { event_key, .. } => Some(event_key),
            Event::ScanCodePush(s) | Event::ScanCodeWaitMsg(s) => Some(&s.event_key),
            Event::PicSysPhoto(p) | Event::PicPhotoOrAlbum(p) | Event::PicWeixin(p) => {
                Some(&p.event_key)
            }
            Event::LocationSelect(l) => Some(&l.event_key),
            Event::Card(c) => c.fields.get("EventKey"),
            Event::Other { fields, .. } => fields.get("EventKey"),
            _ => None,
        }
    }

    /// The QR scene of a follow through a parametric QR code (`EventKey` `qrscene_<scene>`).
    pub fn qr_scene(&self) -> Option<&str> {
        match self {
            Event::Subscribe {
                event_key: Some(key),
                ..
            } => key.strip_prefix("qrscene_"),
            Event::Scan { event_key, .. } => Some(event_key),
            _ => None,
        }
    }

    /// `UserCardCode`, part of the dedup key of card events.
    pub fn user_card_code(&self) -> Option<&str> {
        match self {
            Event::Card(c) => c.user_card_code(),
            Event::Other { fields, .. } => fields.get("UserCardCode"),
            _ => None,
        }
    }

    /// `MsgID` of the send-result events.
    pub fn msg_id(&self) -> Option<u64> {
        match self {
            Event::MassSendJobFinish(m) => Some(m.msg_id),
            Event::TemplateSendJobFinish { msg_id, .. } => Some(*msg_id),
            Event::Other { fields, .. } => fields
                .get("MsgID")
                .or_else(|| fields.get("MsgId"))
                .and_then(|v| v.parse().ok()),
            _ => None,
        }
    }

    pub(super) fn from_fields(mut f: Fields<'a>) -> Result<Self, ParseError> {
        let event = f.take("Event").ok_or(ParseError::MissingField("Event"))?;
        if let Some(kind) = CardEventKind::from_wire(&event) {
            return Ok(Event::Card(CardEvent { kind, fields: f }));
        }
        if let Some(kind) = AccountVerifyKind::from_wire(&event) {
            return Ok(Event::AccountVerify(AccountVerify {
                kind,
                expired_time: number(f.get("ExpiredTime"), "ExpiredTime")?,
                fail_time: number(f.get("FailTime"), "FailTime")?,
                fail_reason: f.take("FailReason"),
            }));
        }
        let is = |name: &str| event.eq_ignore_ascii_case(name);
        Ok(if is("subscribe") {
            Event::Subscribe {
                event_key: f.take("EventKey"),
                ticket: f.take("Ticket"),
            }
        } else if is("unsubscribe") {
            Event::Unsubscribe
        } else if is("SCAN") {
            Event::Scan {
                event_key: text(&mut f, "EventKey"),
                ticket: f.take("Ticket"),
            }
        } else if is("LOCATION") {
            Event::Location {
                latitude: required(f.take("Latitude"), "Latitude")?,
                longitude: required(f.take("Longitude"), "Longitude")?,
                precision: number(f.get("Precision"), "Precision")?.unwrap_or(0.0),
            }
        } else if is("CLICK") {
            Event::Click {
                event_key: text(&mut f, "EventKey"),
            }
        } else if is("VIEW") {
            Event::View {
                event_key: text(&mut f, "EventKey"),
                menu_id: f.take("MenuId"),
            }
        } else if is("view_miniprogram") {
            Event::ViewMiniProgram {
                event_key: text(&mut f, "EventKey"),
                menu_id: f.take("MenuId"),
            }
        } else if is("scancode_push") {
            Event::ScanCodePush(scan_code(&mut f))
        } else if is("scancode_waitmsg") {
            Event::ScanCodeWaitMsg(scan_code(&mut f))
        } else if is("pic_sysphoto") {
            Event::PicSysPhoto(send_pics(&mut f)?)
        } else if is("pic_photo_or_album") {
            Event::PicPhotoOrAlbum(send_pics(&mut f)?)
        } else if is("pic_weixin") {
            Event::PicWeixin(send_pics(&mut f)?)
        } else if is("location_select") {
            Event::LocationSelect(location_select(&mut f)?)
        } else if is("MASSSENDJOBFINISH") {
            Event::MassSendJobFinish(mass_send_job_finish(&mut f)?)
        } else if is("TEMPLATESENDJOBFINISH") {
            Event::TemplateSendJobFinish {
                msg_id: optional_msg_id(&mut f)?.ok_or(ParseError::MissingField("MsgID"))?,
                status: text(&mut f, "Status"),
            }
        } else if is("subscribe_msg_popup_event") {
            Event::SubscribeMsgPopup(subscribe_msgs(&f, "SubscribeMsgPopupEvent")?)
        } else if is("subscribe_msg_change_event") {
            Event::SubscribeMsgChange(subscribe_msgs(&f, "SubscribeMsgChangeEvent")?)
        } else if is("subscribe_msg_sent_event") {
            Event::SubscribeMsgSent(subscribe_msgs(&f, "SubscribeMsgSentEvent")?)
        } else if is("kf_create_session") {
            Event::KfCreateSession {
                kf_account: text(&mut f, "KfAccount"),
            }
        } else if is("kf_close_session") {
            Event::KfCloseSession {
                kf_account: text(&mut f, "KfAccount"),
            }
        } else if is("kf_switch_session") {
            Event::KfSwitchSession {
                from_kf_account: text(&mut f, "FromKfAccount"),
                to_kf_account: text(&mut f, "ToKfAccount"),
            }
        } else {
            Event::Other { event, fields: f }
        })
    }
}

impl Own for Event<'_> {
    type Owned = Event<'static>;
    fn own(self) -> Event<'static> {
        match self {
            Event::Subscribe { event_key, ticket } => Event::Subscribe {
                event_key: event_key.own(),
                ticket: ticket.own(),
            },
            Event::Unsubscribe => Event::Unsubscribe,
            Event::Scan { event_key, ticket } => Event::Scan {
                event_key: event_key.own(),
                ticket: ticket.own(),
            },
            Event::Location {
                latitude,
                longitude,
                precision,
            } => Event::Location {
                latitude,
                longitude,
                precision,
            },
            Event::Click { event_key } => Event::Click {
                event_key: event_key.own(),
            },
            Event::View { event_key, menu_id } => Event::View {
                event_key: event_key.own(),
                menu_id: menu_id.own(),
            },
            Event::ViewMiniProgram { event_key, menu_id } => Event::ViewMiniProgram {
                event_key: event_key.own(),
                menu_id: menu_id.own(),
            },
            Event::ScanCodePush(s) => Event::ScanCodePush(s.own()),
            Event::ScanCodeWaitMsg(s) => Event::ScanCodeWaitMsg(s.own()),
            Event::PicSysPhoto(p) => Event::PicSysPhoto(p.own()),
            Event::PicPhotoOrAlbum(p) => Event::PicPhotoOrAlbum(p.own()),
            Event::PicWeixin(p) => Event::PicWeixin(p.own()),
            Event::LocationSelect(l) => Event::LocationSelect(l.own()),
            Event::MassSendJobFinish(m) => Event::MassSendJobFinish(m.own()),
            Event::TemplateSendJobFinish { msg_id, status } => Event::TemplateSendJobFinish {
                msg_id,
                status: status.own(),
            },
            Event::SubscribeMsgPopup(l) => Event::SubscribeMsgPopup(l.own()),
            Event::SubscribeMsgChange(l) => Event::SubscribeMsgChange(l.own()),
            Event::SubscribeMsgSent(l) => Event::SubscribeMsgSent(l.own()),
            Event::KfCreateSession { kf_account } => Event::KfCreateSession {
                kf_account: kf_account.own(),
            },
            Event::KfCloseSession { kf_account } => Event::KfCloseSession {
                kf_account: kf_account.own(),
            },
            Event::KfSwitchSession {
                from_kf_account,
                to_kf_account,
            } => Event::KfSwitchSession {
                from_kf_account: from_kf_account.own(),
                to_kf_account: to_kf_account.own(),
            },
            Event::Card(c) => Event::Card(c.own()),
            Event::AccountVerify(v) => Event::AccountVerify(v.own()),
            Event::Other { event, fields } => Event::Other {
                event: event.own(),
                fields: fields.own(),
            },
        }
    }
}

impl Event<'_> {
    /// Detaches the event from the body it was parsed from.
    pub fn into_owned(self) -> Event<'static> {
        self.own()
    }
}

fn scan_code<'a>(f: &mut Fields<'a>) -> ScanCode<'a> {
    ScanCode {
        event_key: text(f, "EventKey"),
        scan_type: nested(f, "ScanCodeInfo", "ScanType"),
        scan_result: nested(f, "ScanCodeInfo", "ScanResult"),
    }
}

fn send_pics<'a>(f: &mut Fields<'a>) -> Result<SendPics<'a>, ParseError> {
    let pic_md5_sums = f
        .groups("SendPicsInfo")
        .filter_map(|item| group_value(item, "PicMd5Sum").cloned())
        .collect();
    Ok(SendPics {
        event_key: text(f, "EventKey"),
        count: number(f.get_nested("SendPicsInfo", "Count"), "Count")?,
        pic_md5_sums,
    })
}

fn location_select<'a>(f: &mut Fields<'a>) -> Result<LocationSelect<'a>, ParseError> {
    const TOP: &str = "SendLocationInfo";
    let latitude = number(f.get_nested(TOP, "Location_X"), "Location_X")?;
    let longitude = number(f.get_nested(TOP, "Location_Y"), "Location_Y")?;
    Ok(LocationSelect {
        event_key: text(f, "EventKey"),
        latitude: latitude.ok_or(ParseError::MissingField("Location_X"))?,
        longitude: longitude.ok_or(ParseError::MissingField("Location_Y"))?,
        scale: number(f.get_nested(TOP, "Scale"), "Scale")?.unwrap_or(0),
        label: nested(f, TOP, "Label"),
        poiname: nested(f, TOP, "Poiname"),
    })
}

fn mass_send_job_finish<'a>(f: &mut Fields<'a>) -> Result<MassSendJobFinish<'a>, ParseError> {
    const COPYRIGHT: &str = "CopyrightCheckResult";
    let copyright_check =
        if f.get_nested(COPYRIGHT, "Count").is_some() || f.groups(COPYRIGHT).next().is_some() {
            Some(CopyrightCheck {
                count: number(f.get_nested(COPYRIGHT, "Count"), "Count")?,
                check_state: number(f.get_nested(COPYRIGHT, "CheckState"), "CheckState")?,
                results: f
                    .groups(COPYRIGHT)
                    .map(copyright_item)
                    .collect::<Result<_, _>>()?,
            })
        } else {
            None
        };
    let article_urls = f
        .groups("ArticleUrlResult")
        .map(|item| {
            Ok(ArticleUrl {
                article_idx: group_number(item, "ArticleIdx")?,
                article_url: group_text(item, "ArticleUrl"),
            })
        })
        .collect::<Result<_, ParseError>>()?;
    Ok(MassSendJobFinish {
        msg_id: optional_msg_id(f)?.ok_or(ParseError::MissingField("MsgID"))?,
        status: text(f, "Status"),
        total_count: number(f.get("TotalCount"), "TotalCount")?,
        filter_count: number(f.get("FilterCount"), "FilterCount")?,
        sent_count: number(f.get("SentCount"), "SentCount")?,
        error_count: number(f.get("ErrorCount"), "ErrorCount")?,
        copyright_check,
        article_urls,
    })
}

fn copyright_item<'a>(item: &[Field<'a>]) -> Result<CopyrightCheckItem<'a>, ParseError> {
    Ok(CopyrightCheckItem {
        article_idx: group_number(item, "ArticleIdx")?,
        user_declare_state: group_number(item, "UserDeclareState")?,
        audit_state: group_number(item, "AuditState")?,
        original_article_url: group_text(item, "OriginalArticleUrl"),
        original_article_type: group_number(item, "OriginalArticleType")?,
        can_reprint: group_number(item, "CanReprint")?,
        need_replace_content: group_number(item, "NeedReplaceContent")?,
        need_show_reprint_source: group_number(item, "NeedShowReprintSource")?,
    })
}

fn subscribe_msgs<'a>(f: &Fields<'a>, top: &str) -> Result<Vec<SubscribeMsg<'a>>, ParseError> {
    f.groups(top)
        .map(|item| {
            Ok(SubscribeMsg {
                template_id: group_text(item, "TemplateId"),
                subscribe_status: group_value(item, "SubscribeStatusString").cloned(),
                popup_scene: group_number(item, "PopupScene")?,
                msg_id: match group_number(item, "MsgID")? {
                    Some(id) => Some(id),
                    None => group_number(item, "MsgId")?,
                },
                error_code: group_number(item, "ErrorCode")?,
                error_status: group_value(item, "ErrorStatus").cloned(),
            })
        })
        .collect()
}

/// A grandchild's text, cloned (a borrowed `Cow` clones for free).
fn nested<'a>(f: &Fields<'a>, top: &str, name: &str) -> Cow<'a, str> {
    f.nested_value(top, name).cloned().unwrap_or_default()
}

fn group_text<'a>(item: &[Field<'a>], name: &str) -> Cow<'a, str> {
    group_value(item, name).cloned().unwrap_or_default()
}

fn group_number<T: std::str::FromStr>(
    item: &[Field<'_>],
    name: &'static str,
) -> Result<Option<T>, ParseError> {
    number(group_value(item, name).map(|v| v.as_ref()), name)
}
