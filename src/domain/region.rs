//! The plan's four regions as data: who belongs to each, and on what basis.
//!
//! Membership is read from `geodata/regions.toml` so a planner can change it without touching code. Each
//! member is a whole city or a single county (by adcode), or a functional zone with no boundary; each says
//! whether the membership is *stated* by a published source or *inferred* from the plan's text.

use serde::{Deserialize, Serialize};

/// The plan's shape words: the circle (圈), the belt (带) and the two zones (区).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegionKind {
    /// 都市圈: a metropolitan circle.
    Circle,
    /// 经济带: an economic belt.
    Belt,
    /// 区: a zone.
    Zone,
}

impl RegionKind {
    /// The wire name (`circle`, `belt`, `zone`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Circle => "circle",
            Self::Belt => "belt",
            Self::Zone => "zone",
        }
    }
}

/// How sure a membership is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "basis", rename_all = "kebab-case")]
pub enum Basis {
    /// A published source names this member.
    Stated {
        /// The source, specific enough to find again.
        source: String,
    },
    /// No published list was found; the plan's text supports the membership.
    Inferred {
        /// The plan section(s) that support it, e.g. `五.(一)`.
        section: String,
        /// Why the section supports it.
        reason: String,
        /// The plan's own words that support it.
        quote: String,
    },
    /// The plan's text does not name the member for this region; it is included for a reason given, and the
    /// closest words of the plan are quoted.
    InferredWeak {
        /// The plan section(s) of the closest text.
        section: String,
        /// Why it is weak, and why it is included anyway.
        reason: String,
        /// The closest words of the plan.
        quote: String,
    },
}

impl Basis {
    /// `stated`, `inferred` or `inferred-weak`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Stated { .. } => "stated",
            Self::Inferred { .. } => "inferred",
            Self::InferredWeak { .. } => "inferred-weak",
        }
    }
}

/// What kind of unit a member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberLevel {
    /// A prefecture-level city, all of its counties included.
    City,
    /// A single county-level unit.
    County,
    /// A functional zone with no adcode and no boundary in the data (e.g. 沈抚示范区).
    Zone,
}

impl MemberLevel {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::City => "city",
            Self::County => "county",
            Self::Zone => "zone",
        }
    }
}

/// One member of a region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawMember")]
pub struct RegionMember {
    /// The 6-digit adcode of a city or county; absent for a functional zone.
    pub adcode: Option<String>,
    /// The Chinese name, as a check against the adcode.
    pub name_zh: String,
    /// City, county or zone; checked against the boundary data at load.
    pub level: MemberLevel,
    /// Stated or inferred, with its source or section.
    pub basis: Basis,
    /// Anything a reader should know (e.g. why a zone adds no area).
    pub note: Option<String>,
}

/// A member exactly as written in `regions.toml`: unknown keys are refused, and the basis fields are checked
/// to fit the basis when converted into a [`RegionMember`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMember {
    adcode: Option<String>,
    name_zh: String,
    level: MemberLevel,
    basis: String,
    source: Option<String>,
    section: Option<String>,
    reason: Option<String>,
    quote: Option<String>,
    note: Option<String>,
}

impl TryFrom<RawMember> for RegionMember {
    type Error = String;

    fn try_from(m: RawMember) -> Result<Self, Self::Error> {
        let who = m.adcode.clone().unwrap_or_else(|| m.name_zh.clone());
        let filled = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.trim().is_empty());
        let basis = match (m.basis.as_str(), m.source, m.section, m.reason, m.quote) {
            ("stated", Some(source), None, None, None) if !source.trim().is_empty() => {
                Basis::Stated { source }
            }
            ("stated", ..) => {
                return Err(format!(
                    "member {who}: basis \"stated\" needs a non-empty `source` (and no section/reason/quote)"
                ));
            }
            (kind @ ("inferred" | "inferred-weak"), None, section, reason, quote)
                if filled(&section) && filled(&reason) && filled(&quote) =>
            {
                let (section, reason, quote) =
                    (section.unwrap_or_default(), reason.unwrap_or_default(), quote.unwrap_or_default());
                if kind == "inferred" {
                    Basis::Inferred { section, reason, quote }
                } else {
                    Basis::InferredWeak { section, reason, quote }
                }
            }
            (kind @ ("inferred" | "inferred-weak"), ..) => {
                return Err(format!(
                    "member {who}: basis \"{kind}\" needs `section`, `reason` and `quote` (the plan's words \
                     that support it), and no source"
                ));
            }
            (other, ..) => {
                return Err(format!(
                    "member {who}: basis \"{other}\" is not \"stated\", \"inferred\" or \"inferred-weak\""
                ));
            }
        };
        Ok(Self { adcode: m.adcode, name_zh: m.name_zh, level: m.level, basis, note: m.note })
    }
}

/// One region of the plan, as written in `regions.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionDef {
    /// Stable id, e.g. `shenyang-circle`.
    pub id: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// Circle, belt or zone.
    pub kind: RegionKind,
    /// The plan part devoted to the region (三, 四, 五, 六).
    pub plan_part: String,
    /// The plan's strategic positioning (一.(三)), verbatim.
    pub positioning_zh: String,
    /// Its English translation.
    pub positioning_en: String,
    /// The members, in the order the sources list them.
    #[serde(rename = "member")]
    pub members: Vec<RegionMember>,
}

/// The whole `regions.toml` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionsFile {
    /// The four regions.
    #[serde(rename = "region")]
    pub regions: Vec<RegionDef>,
}
