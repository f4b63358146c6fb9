//! A small list of KCD-8 (Korean ICD-10) codes with their Korean names, covering the
//! conditions the generated documents are about.

/// One diagnosis code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kcd {
    pub code: &'static str,
    pub name: &'static str,
}

const fn k(code: &'static str, name: &'static str) -> Kcd {
    Kcd { code, name }
}

pub const ALL: &[Kcd] = &[
    k("I10", "본태성(일차성) 고혈압"),
    k("E11.9", "합병증을 동반하지 않은 2형 당뇨병"),
    k("E78.5", "상세불명의 고지질혈증"),
    k("E78.0", "순수 고콜레스테롤혈증"),
    k("I25.1", "죽상경화성 심장병"),
    k("I20.9", "상세불명의 협심증"),
    k("I21.9", "상세불명의 급성 심근경색증"),
    k("I48.9", "상세불명의 심방세동 및 심방조동"),
    k("I50.9", "상세불명의 심부전"),
    k("I63.9", "상세불명의 뇌경색증"),
    k("J06.9", "상세불명의 급성 상기도감염"),
    k("J01.9", "상세불명의 급성 부비동염"),
    k("J02.9", "상세불명의 급성 인두염"),
    k("J20.9", "상세불명의 급성 기관지염"),
    k("J30.4", "상세불명의 알레르기비염"),
    k("J18.9", "상세불명의 폐렴"),
    k("J44.1", "급성 악화를 동반한 만성 폐쇄성 폐질환"),
    k("J45.9", "상세불명의 천식"),
    k("J11.1", "바이러스가 확인되지 않은 인플루엔자"),
    k("M54.5", "아래허리통증"),
    k("M17.1", "기타 원발성 무릎관절증"),
    k("M51.2", "기타 명시된 추간판 전위"),
    k("M75.1", "회전근개 증후군"),
    k("S93.4", "발목의 염좌 및 긴장"),
    k("M10.9", "상세불명의 통풍"),
    k("M79.1", "근육통"),
    k("K21.9", "식도염을 동반하지 않은 위-식도역류병"),
    k("K29.7", "상세불명의 위염"),
    k("K30", "기능성 소화불량"),
    k("K59.0", "변비"),
    k("K35.8", "기타 및 상세불명의 급성 충수염"),
    k("K80.2", "담낭염이 없는 담낭의 결석"),
    k("K81.0", "급성 담낭염"),
    k("N39.0", "부위가 명시되지 않은 요로감염"),
    k("N10", "급성 세뇨관-간질신염"),
    k("N40", "전립선증식증"),
    k("N18.3", "만성 신장병(3기)"),
    k("E03.9", "상세불명의 갑상선기능저하증"),
    k("F32.9", "상세불명의 우울에피소드"),
    k("F41.9", "상세불명의 불안장애"),
    k("G47.0", "수면의 시작 및 유지 장애"),
    k("G43.9", "상세불명의 편두통"),
    k("B02.9", "합병증이 없는 대상포진"),
    k("A09.0", "감염성 기원의 기타 위장염 및 결장염"),
    k("S72.0", "대퇴골 경부의 골절"),
    k("D50.9", "상세불명의 철결핍빈혈"),
    k("E87.1", "저삼투질농도 및 저나트륨혈증"),
    k("M81.0", "폐경후 골다공증"),
];

/// The entry for `code`. Panics on an unknown code: codes are written in this crate.
pub fn get(code: &str) -> Kcd {
    *ALL.iter()
        .find(|k| k.code == code)
        .unwrap_or_else(|| panic!("KCD code {code} missing from the built-in list"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_shaped_like_kcd() {
        let mut codes: Vec<&str> = ALL.iter().map(|k| k.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ALL.len());
        for k in ALL {
            let b = k.code.as_bytes();
            assert!(
                b[0].is_ascii_uppercase() && b[1].is_ascii_digit() && b[2].is_ascii_digit(),
                "{}",
                k.code
            );
        }
    }
}
