//! Synthetic people and places: patient and doctor names from syllable lists, masked
//! resident numbers, addresses, phone numbers and institution names. None is real.

use chrono::{Datelike, NaiveDate};

use crate::dataset::synth::rng::Rng;

/// Common surnames, most frequent first (the first ten are drawn more often).
pub(crate) const SURNAMES: &[&str] = &[
    "김", "이", "박", "최", "정", "강", "조", "윤", "장", "임", "한", "오", "서", "신", "권", "황",
    "안", "송", "류", "전", "홍", "고", "문", "양", "손", "배", "백", "허", "유", "남", "심", "노",
    "하", "곽", "성", "차", "주", "우", "구", "민", "진", "나", "지", "엄", "채", "원", "천", "방",
    "공", "현", "함", "변", "염", "여", "추", "도", "소", "석", "선", "설", "마", "길", "연", "위",
    "표", "명", "기", "반", "왕", "금", "옥", "육", "인", "맹", "제", "모", "탁", "국", "어", "은",
];

const GIVEN_MALE: &[&str] = &[
    "민", "준", "서", "도", "윤", "현", "우", "지", "호", "성", "재", "영", "수", "진", "동", "상",
    "철", "용", "태", "석", "승", "건", "훈", "규", "한", "형", "기", "병", "종", "광", "희", "원",
    "혁", "빈", "찬", "주", "경", "정", "선", "명", "근", "욱", "범", "일", "환", "섭", "택", "열",
];

const GIVEN_FEMALE: &[&str] = &[
    "서", "지", "민", "하", "수", "윤", "은", "예", "다", "채", "유", "아", "소", "연", "현", "진",
    "영", "미", "정", "희", "숙", "자", "순", "옥", "경", "혜", "선", "주", "나", "은", "보", "초",
    "향", "란", "애", "원", "빈", "린", "인", "화", "나", "슬", "별", "송", "설", "가", "름", "효",
];

/// Male or female, as the 7th digit of a resident number encodes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    /// `남` / `여` as printed in 성별 fields.
    pub fn korean(self) -> &'static str {
        match self {
            Sex::Male => "남",
            Sex::Female => "여",
        }
    }
}

/// A synthetic patient.
#[derive(Debug, Clone)]
pub struct Person {
    pub name: String,
    pub sex: Sex,
    pub birth: NaiveDate,
    /// Chart number (등록번호), 8 digits.
    pub chart_no: String,
    pub phone: String,
    pub address: String,
}

impl Person {
    /// Age in full years on `on`.
    pub fn age(&self, on: NaiveDate) -> i32 {
        let mut age = on.year() - self.birth.year();
        if (on.month(), on.day()) < (self.birth.month(), self.birth.day()) {
            age -= 1;
        }
        age
    }

    /// Resident registration number with the back six digits masked:
    /// `850312-1******` (or fully masked back half on some forms).
    pub fn masked_rrn(&self, rng: &mut Rng) -> String {
        let y2k = self.birth.year() >= 2000;
        let digit = match (self.sex, y2k) {
            (Sex::Male, false) => 1,
            (Sex::Female, false) => 2,
            (Sex::Male, true) => 3,
            (Sex::Female, true) => 4,
        };
        let front = format!(
            "{:02}{:02}{:02}",
            self.birth.year() % 100,
            self.birth.month(),
            self.birth.day()
        );
        if rng.chance(0.8) {
            format!("{front}-{digit}******")
        } else {
            format!("{front}-*******")
        }
    }

    /// `남/58` style sex-and-age cell.
    pub fn sex_age(&self, on: NaiveDate) -> String {
        format!("{}/{}", self.sex.korean(), self.age(on))
    }
}

/// A name: surname plus two given syllables (rarely one).
pub fn name(rng: &mut Rng, sex: Sex) -> String {
    let surname = if rng.chance(0.6) {
        rng.pick(&SURNAMES[..10])
    } else {
        rng.pick(SURNAMES)
    };
    let pool = match sex {
        Sex::Male => GIVEN_MALE,
        Sex::Female => GIVEN_FEMALE,
    };
    let first = rng.pick(pool);
    if rng.chance(0.05) {
        return format!("{surname}{first}");
    }
    let mut second = rng.pick(pool);
    while second == first {
        second = rng.pick(pool);
    }
    format!("{surname}{first}{second}")
}

/// A patient aged between `min_age` and `max_age` on `on`.
pub fn patient(rng: &mut Rng, on: NaiveDate, min_age: i32, max_age: i32) -> Person {
    let sex = if rng.chance(0.5) {
        Sex::Male
    } else {
        Sex::Female
    };
    let age = rng.range(i64::from(min_age), i64::from(max_age)) as i32;
    let birth = on - chrono::Duration::days(i64::from(age) * 365 + rng.range(0, 364));
    Person {
        name: name(rng, sex),
        sex,
        birth,
        chart_no: format!("{:08}", rng.range(1_000_000, 99_999_999)),
        phone: mobile(rng),
        address: address(rng).0,
    }
}

/// A mobile number, `010-1234-5678`.
pub fn mobile(rng: &mut Rng) -> String {
    format!("010-{:04}-{:04}", rng.range(2000, 9999), rng.range(0, 9999))
}

/// (province/city, districts, area code, road names)
const REGIONS: &[(&str, &[&str], &str)] = &[
    (
        "서울특별시",
        &[
            "강남구",
            "송파구",
            "서초구",
            "마포구",
            "종로구",
            "노원구",
            "관악구",
            "성북구",
            "영등포구",
            "동작구",
        ],
        "02",
    ),
    (
        "부산광역시",
        &["해운대구", "부산진구", "동래구", "수영구", "사하구"],
        "051",
    ),
    ("대구광역시", &["수성구", "달서구", "중구", "북구"], "053"),
    (
        "인천광역시",
        &["남동구", "연수구", "부평구", "계양구"],
        "032",
    ),
    ("광주광역시", &["서구", "북구", "광산구"], "062"),
    ("대전광역시", &["유성구", "서구", "중구"], "042"),
    ("울산광역시", &["남구", "중구", "울주군"], "052"),
    (
        "경기도",
        &[
            "성남시 분당구",
            "수원시 영통구",
            "고양시 일산동구",
            "용인시 수지구",
            "안양시 동안구",
            "부천시",
            "화성시",
            "남양주시",
        ],
        "031",
    ),
    ("강원특별자치도", &["춘천시", "원주시", "강릉시"], "033"),
    ("충청북도", &["청주시 흥덕구", "충주시"], "043"),
    ("충청남도", &["천안시 서북구", "아산시"], "041"),
    ("전북특별자치도", &["전주시 완산구", "익산시"], "063"),
    ("전라남도", &["순천시", "여수시", "목포시"], "061"),
    ("경상북도", &["포항시 남구", "구미시", "경주시"], "054"),
    ("경상남도", &["창원시 성산구", "김해시", "진주시"], "055"),
    ("제주특별자치도", &["제주시", "서귀포시"], "064"),
];

const ROADS: &[&str] = &[
    "중앙로",
    "시청로",
    "대학로",
    "문화로",
    "평화로",
    "번영로",
    "희망로",
    "은행로",
    "공원로",
    "역전로",
    "테헤란로",
    "올림픽로",
    "한강대로",
    "세종대로",
    "판교로",
    "센텀중앙로",
    "월드컵로",
    "동부대로",
    "새마을로",
    "학교길",
    "연세로",
    "신촌로",
    "봉은사로",
    "도산대로",
    "서부로",
    "남부순환로",
];

/// A road-name address and the region's area code.
pub fn address(rng: &mut Rng) -> (String, &'static str) {
    let (region, districts, area) = rng.choose(REGIONS);
    let district = rng.pick(districts);
    let road = rng.pick(ROADS);
    let mut addr = format!("{region} {district} {road} {}", rng.range(1, 420));
    if rng.chance(0.3) {
        addr.push_str(&format!(
            ", {}동 {}호",
            rng.range(101, 115),
            rng.range(101, 1504)
        ));
    }
    (addr, area)
}

/// A landline in the given area, `02-123-4567` or `031-1234-5678`.
pub fn landline(rng: &mut Rng, area: &str) -> String {
    if rng.chance(0.5) {
        format!("{area}-{}-{:04}", rng.range(200, 999), rng.range(0, 9999))
    } else {
        format!("{area}-{}-{:04}", rng.range(2000, 9999), rng.range(0, 9999))
    }
}

const PLACE_WORDS: &[&str] = &[
    "서울",
    "한빛",
    "연세",
    "세란",
    "푸른",
    "새봄",
    "바른",
    "하나",
    "중앙",
    "우리",
    "참",
    "미래",
    "열린",
    "좋은",
    "행복",
    "사랑",
    "튼튼",
    "맑은",
    "늘푸른",
    "한마음",
    "새하늘",
    "수",
    "다온",
    "온누리",
];

const CLINIC_KINDS: &[&str] = &[
    "내과의원",
    "가정의학과의원",
    "정형외과의원",
    "이비인후과의원",
    "소아청소년과의원",
    "내과",
    "연합의원",
    "의원",
];

const HOSPITAL_KINDS: &[&str] = &[
    "병원",
    "종합병원",
    "기독병원",
    "의료원",
    "대학교병원",
    "성모병원",
];

/// A medical institution.
#[derive(Debug, Clone)]
pub struct Institution {
    pub name: String,
    pub address: String,
    pub phone: String,
    pub fax: String,
    /// 요양기관기호, 8 digits.
    pub code: String,
}

/// A clinic (`clinic = true`, 의원) or a hospital (병원).
pub fn institution(rng: &mut Rng, clinic: bool) -> Institution {
    let word = rng.pick(PLACE_WORDS);
    let kind = if clinic {
        rng.pick(CLINIC_KINDS)
    } else {
        rng.pick(HOSPITAL_KINDS)
    };
    let (address, area) = address(rng);
    let name = if kind.starts_with("대학교") {
        format!("{word}{kind}")
    } else if rng.chance(0.3) {
        format!("{word} {kind}")
    } else {
        format!("{word}{kind}")
    };
    Institution {
        name,
        phone: landline(rng, area),
        fax: landline(rng, area),
        address,
        code: format!("{:08}", rng.range(10_000_000, 99_999_999)),
    }
}

/// A doctor: name and licence number.
#[derive(Debug, Clone)]
pub struct Doctor {
    pub name: String,
    pub license: String,
    pub department: &'static str,
}

pub fn doctor(rng: &mut Rng, department: &'static str) -> Doctor {
    let sex = if rng.chance(0.6) {
        Sex::Male
    } else {
        Sex::Female
    };
    Doctor {
        name: name(rng, sex),
        license: format!("{}", rng.range(10_000, 139_999)),
        department,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_have_the_expected_shapes() {
        let mut rng = Rng::new(1);
        let on = NaiveDate::from_ymd_opt(2024, 3, 5).unwrap();
        for _ in 0..200 {
            let p = patient(&mut rng, on, 1, 90);
            let n = p.name.chars().count();
            assert!((2..=3).contains(&n), "{}", p.name);
            assert!((1..=90).contains(&p.age(on)), "{}", p.age(on));
            let rrn = p.masked_rrn(&mut rng);
            assert_eq!(rrn.len(), 14, "{rrn}");
            assert_eq!(&rrn[6..7], "-");
        }
    }
}
