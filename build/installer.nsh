; Lifeline NSIS additions (included by electron-builder, see electron-builder.yml nsis.include).
; Silent per-machine install for IT:
;   Lifeline-Setup.exe /S /SERVER_URL=https://lifeline.example.org /ENROLLMENT_SECRET=… /SERVER_KEY=<sha256>[,<sha256>]
; The properties are handed to the agent itself, which checks them against its configuration schema and writes
; %ProgramData%\Lifeline\policy.json; an invalid value aborts the install with the agent's message.
!include "FileFunc.nsh"

!macro lifelinePolicyArg NAME FLAG
  ClearErrors
  ${GetOptions} $R0 "/${NAME}=" $R1
  ${IfNot} ${Errors}
    StrCpy $R2 '$R2 "${FLAG}=$R1"'
  ${EndIf}
!macroend

!macro customInstall
  ${GetParameters} $R0
  StrCpy $R2 ""
  !insertmacro lifelinePolicyArg "SERVER_URL" "--server-url"
  !insertmacro lifelinePolicyArg "ENROLLMENT_SECRET" "--enrollment-secret"
  !insertmacro lifelinePolicyArg "SERVER_KEY" "--server-key"
  !insertmacro lifelinePolicyArg "SERVER_CA_FILE" "--server-ca-file"
  !insertmacro lifelinePolicyArg "KIOSK" "--kiosk"
  !insertmacro lifelinePolicyArg "ALWAYS_ON_TOP" "--always-on-top"
  !insertmacro lifelinePolicyArg "REACHABILITY_BUDGET_MS" "--reachability-budget-ms"
  ${If} $R2 != ""
    ExecWait '"$INSTDIR\${APP_EXECUTABLE_FILENAME}" --write-machine-policy $R2' $R3
    ${If} $R3 != 0
      MessageBox MB_ICONSTOP "Lifeline: the configuration given to the installer is invalid (exit $R3). See %ProgramData%\Lifeline\policy-error.txt." /SD IDOK
      SetErrorLevel 2
      Abort
    ${EndIf}
  ${EndIf}
  ; Start at login for every user of this machine (per-machine install); the agent keeps a single instance.
  WriteRegStr HKLM "Software\Microsoft\Windows\CurrentVersion\Run" "Lifeline" '"$INSTDIR\${APP_EXECUTABLE_FILENAME}" --hidden'
!macroend

!macro customUnInstall
  DeleteRegValue HKLM "Software\Microsoft\Windows\CurrentVersion\Run" "Lifeline"
  ; The machine policy and users' stores are kept on upgrade; IT removes %ProgramData%\Lifeline on decommissioning.
!macroend
