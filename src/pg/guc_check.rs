//! What every string setting's check hook shares: reading the candidate
//! value guc.c hands over, and reporting a refusal the way PostgreSQL
//! expects (false, with the reason as the error's DETAIL).

use std::ffi::{CStr, CString, c_char};

use pgrx::pg_sys;

/// The part every string check hook shares: the new value (NULL reads as
/// empty) must be UTF-8, then `validate` judges it.
///
/// # Safety
///
/// `newval` must be NULL or point to a readable `*mut c_char` that is NULL or
/// a NUL-terminated string, both unchanged for the duration of the call (what
/// guc.c passes a string check hook).
pub unsafe fn check_text(
    newval: *mut *mut c_char,
    not_utf8: &str,
    validate: impl FnOnce(&str) -> Result<(), String>,
) -> bool {
    // SAFETY: both pointers are NULL-checked before being read; by the contract
    // *newval is a NUL-terminated string that outlives `value`, which does not
    // escape this call.
    let value = unsafe {
        if newval.is_null() || (*newval).is_null() {
            c""
        } else {
            CStr::from_ptr(*newval)
        }
    };
    check_result(value.to_str().map_err(|_| not_utf8.to_owned()).and_then(validate))
}

/// Reports a check hook's verdict the way PostgreSQL expects: false, with
/// the reason as the error's DETAIL.
pub fn check_result(verdict: Result<(), String>) -> bool {
    match verdict {
        Ok(()) => true,
        Err(detail) => {
            let detail = CString::new(detail).unwrap_or_default();
            // SAFETY: a process-local global that guc.c sets to NULL before each check
            // hook and reads right after the hook returns false; pstrdup copies the
            // C string into CurrentMemoryContext (the reload's or statement's), which
            // outlives that ereport. An out-of-memory ERROR unwinds to the #[pg_guard] hook.
            unsafe { pg_sys::GUC_check_errdetail_string = pg_sys::pstrdup(detail.as_ptr()) };
            false
        }
    }
}
