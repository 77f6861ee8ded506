# Strict warnings for the project's own targets (not for third-party code).
set(TRF_C_WARNINGS
  -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith
  -Wcast-qual -Wundef -Wwrite-strings -Wformat=2 -Wvla -Wimplicit-fallthrough)

function(trf_target_warnings target)
  target_compile_options(${target} PRIVATE ${TRF_C_WARNINGS})
  if(TRF_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  target_compile_definitions(${target} PRIVATE _GNU_SOURCE)
endfunction()
